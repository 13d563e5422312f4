"""The `counteranimal` command and where it finds its data."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from engine import cli, config
from tests.conftest import PAPER, REPO


def test_help_lists_serve():
    result = subprocess.run([sys.executable, "-m", "engine.cli", "--help"], capture_output=True, text=True, check=True)
    assert "serve" in result.stdout


def test_serve_passes_host_port_and_results_to_streamlit(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(cli.os, "execve", lambda path, command, env: calls.append((command, env)))
    cli.main(["serve", "--host", "0.0.0.0", "--port", "9999", "--results", str(tmp_path)])
    (command, env), *_ = calls
    assert command[command.index("--server.address") + 1] == "0.0.0.0"
    assert command[command.index("--server.port") + 1] == "9999"
    assert Path(command[command.index("run") + 1]) == REPO / "app" / "main.py"
    assert env[config.RESULTS_ENV] == str(tmp_path.resolve())


def test_results_folder_precedence(monkeypatch):
    monkeypatch.delenv(config.RESULTS_ENV, raising=False)
    assert config.results_dir() == Path("results")
    monkeypatch.setenv(config.RESULTS_ENV, "/data/ca")
    assert config.results_dir() == Path("/data/ca")
    assert config.results_dir("elsewhere") == Path("elsewhere")


def test_published_numbers_do_not_move_with_the_results_folder(monkeypatch, tmp_path):
    monkeypatch.delenv(config.PAPER_ENV, raising=False)
    monkeypatch.setenv(config.RESULTS_ENV, str(tmp_path))
    assert config.paper_dir() == PAPER


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), "."]
    subprocess.run(command, cwd=REPO, check=True)
    (path,) = out.glob("*.whl")
    return path


def test_wheel_carries_the_app_the_zoo_and_the_published_numbers(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {"app/main.py", "app/app_pages/overview.py", "engine/zoo.toml"}
    expected |= {f"engine/paper_data/{p.name}" for p in PAPER.iterdir()}
    assert expected <= names


def test_installed_wheel_finds_its_published_numbers(wheel, tmp_path):
    zipfile.ZipFile(wheel).extractall(tmp_path)
    code = "from engine.config import paper_dir; print(paper_dir())"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True, env={"PATH": ""}
    )
    assert Path(result.stdout.strip()) == tmp_path / "engine" / "paper_data"
