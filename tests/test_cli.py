"""The `counteranimal` command and where it finds its data."""

import json
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
    assert command[command.index("--server.maxUploadSize") + 1] == "2048"  # not from a config file: any folder
    assert command[command.index("--server.fileWatcherType") + 1] == "none"  # a served dashboard is not edited live
    assert command[command.index("--runner.postScriptGC") + 1] == "false"  # no 90 ms collection after each click
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
    expected = {"app/main.py", "app/app_pages/overview.py", "engine/zoo/zoo.toml"}
    expected |= {"app/widgets/chart.js", "app/static/plotly-basic-4.1.1.min.js"}  # the charts draw in the browser
    expected |= {f"engine/paper_data/{p.name}" for p in PAPER.iterdir()}
    assert expected <= names


def test_installed_wheel_finds_its_published_numbers(wheel, tmp_path):
    zipfile.ZipFile(wheel).extractall(tmp_path)
    code = "from engine.config import paper_dir; print(paper_dir())"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True, env={"PATH": ""}
    )
    assert Path(result.stdout.strip()) == tmp_path / "engine" / "paper_data"


# ---- engine commands -----------------------------------------------------------------------------------------------


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_zoo_lists_every_model_with_its_spec(capsys):
    code, out, _ = run_cli(capsys, "zoo")
    assert code == 0 and len(out.splitlines()) == 53
    assert "open_clip:ViT-B-32/laion2b_s34b_b79k" in out and "hf:llava-hf/llava-1.5-7b-hf" in out


def test_eval_writes_a_run_and_prints_its_metrics(capsys, tmp_path, dataset_dir, tiny_clip):
    from tests.conftest import TINY_CLIP

    spec = f"open_clip:{TINY_CLIP}@{tiny_clip}"
    args = ["eval", "--model", spec, "--data", dataset_dir.parent, "--results", tmp_path / "r"]
    args += ["--cache", tmp_path / "c", "--workers", 1, "--device", "cpu"]
    code, out, _ = run_cli(capsys, *args)
    assert code == 0 and "written to" in out
    assert "1vs1000" in out and "1vs20" in out and spec in out
    code, out, _ = run_cli(capsys, *args)
    assert "already evaluated" in out


def test_eval_checks_every_models_weights_before_the_first_model_runs(capsys, tmp_path, dataset_dir, tiny_timm):
    """A missing or foreign weight file for the last model is reported before the first one is evaluated."""
    good = f"timm:test_resnet@{tiny_timm}"
    results, cache = tmp_path / "r", tmp_path / "c"
    common = ["--data", dataset_dir.parent, "--results", results, "--cache", cache, "--workers", 1, "--device", "cpu"]
    for wrong, message in [
        (f"timm:test_resnet@{tmp_path / 'typo.safetensors'}", "does not exist"),
        (f"timm:resnet18@{tiny_timm}", "does not fit the resnet18 architecture"),
    ]:
        code, out, err = run_cli(capsys, "eval", "--model", good, "--model", wrong, *common)
        assert code == 2 and message in err and out == ""
        assert not (results / "runs").exists() and not cache.exists()  # nothing decoded, nothing evaluated


def test_runs_without_runs_says_how_to_make_one(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "runs", "--results", tmp_path)
    assert code == 0 and "counteranimal eval" in out


def test_runs_prints_class_balanced_metrics(capsys, tmp_path):
    import numpy as np

    from engine.runs.format import SETUPS, predictions_table, setup_columns
    from engine.runs.store import write_run
    from tests.conftest import run_manifest

    # (class, split, prediction), the same in both setups. Ice bear (296): common 2 of 3 right, counter 0 of 1;
    # ostrich (9): common 1 of 1, counter 2 of 3. Class-balanced: common (66.67 + 100) / 2 = 83.33, counter
    # (0 + 66.67) / 2 = 33.33, drop 50.00; the per-image mean would be 75.00, 50.00, 25.00.
    photos = [(296, "common", 296), (296, "common", 296), (296, "common", 279), (296, "counter", 279)]
    photos += [(9, "common", 9), (9, "counter", 9), (9, "counter", 9), (9, "counter", 130)]
    class_ids = np.array([c for c, _, _ in photos])
    ids = np.array([[p, 1, 2, 3, 4] for _, _, p in photos])  # (N, 5) best classes, the prediction first
    scores = np.full(ids.shape, 0.2, np.float32)
    columns = {
        "image_id": [f"{i}.jpg" for i in range(len(photos))],
        "class_id": class_ids,
        "split": [split for _, split, _ in photos],
        "background": ["snow" if split == "common" else "grass" for _, split, _ in photos],
    }
    for setup in SETUPS:
        columns |= setup_columns(setup, ids, scores, scores, class_ids)
    write_run(tmp_path, run_manifest("run-x", images={"evaluated": len(photos)}), predictions_table(columns))
    code, out, _ = run_cli(capsys, "runs", "--results", tmp_path)
    printed = {fields[2]: fields[3:] for fields in map(str.split, out.splitlines()[1:])}  # setup -> its numbers
    assert code == 0 and printed == dict.fromkeys(SETUPS, ["83.33", "33.33", "50.00", "8"]), out


def test_data_check_compares_counts_with_the_paper_and_lists_skipped_files(capsys, dataset_dir, tmp_path):
    import shutil

    copy = shutil.copytree(dataset_dir, tmp_path / "data")
    (copy / "296 ice bear" / "common-snow" / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    code, out, _ = run_cli(capsys, "data", "check", copy, "--workers", 1)
    assert code == 0
    assert "296 ice bear" in out and "common    4/ 126" in out
    assert "skipped 296 ice bear/common-snow/broken.jpg" in out


def test_bad_input_is_one_line_not_a_traceback(capsys, tmp_path):
    code, _, err = run_cli(capsys, "eval", "--model", "timm:test_resnet", "--data", tmp_path, "--results", tmp_path)
    assert code == 2 and err.startswith("error: No CounterAnimal class folders") and "Traceback" not in err


def test_download_offline_gives_the_manual_steps(capsys, tmp_path):
    import socket

    with socket.socket() as s:  # a port with nothing listening: a refused connection, like no internet
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, _, err = run_cli(capsys, "download", "--to", tmp_path, "--url", f"http://127.0.0.1:{port}/data.zip")
    assert code == 2 and "counteranimal.github.io" in err


def test_candidates_build_writes_a_file_eval_can_use(capsys, tmp_path, dataset_dir, tiny_clip):
    import json

    from tests.conftest import TINY_CLIP

    spec = f"open_clip:{TINY_CLIP}@{tiny_clip}"
    common = ["--data", dataset_dir, "--results", tmp_path / "r", "--cache", tmp_path / "c", "--workers", 1]
    out_file = tmp_path / "cands.json"
    code, _, _ = run_cli(capsys, "candidates", "build", "--reference", spec, "--out", out_file, *common)
    built = json.loads(out_file.read_text())
    assert code == 0 and built["meta"]["reference"] == spec
    assert {k: len(v) for k, v in built["candidates"].items()} == {"9": 20, "100": 20, "296": 20}
    code, out, _ = run_cli(capsys, "eval", "--model", spec, "--candidates", out_file, *common)
    assert code == 0 and "1vs20" in out


def test_demo_writes_a_dataset_and_two_runs(capsys, tmp_path, monkeypatch, demo_results):
    from engine.inference import demo

    monkeypatch.setattr(demo, "PHOTOS_PER_GROUP", 2)
    cache = demo_results.parent / "cache"  # the session demo's cache: its text embeddings are reused
    code, out, _ = run_cli(capsys, "demo", "--to", tmp_path / "demo", "--workers", 1, "--cache", cache)
    assert code == 0 and out.count(": run ") == 2
    to = (tmp_path / "demo").resolve()  # the printed command works from any folder: absolute paths
    data, roots = f"COUNTERANIMAL_DATA={to / 'data' / 'LAION-final'}", f"COUNTERANIMAL_ALLOWED_ROOTS={to}"
    assert f"{data} {roots} counteranimal serve --results {to / 'results'}" in out  # Evaluate can reach the demo
    runs = [json.loads(p.read_text()) for p in (tmp_path / "demo" / "results" / "runs").glob("*/run.json")]
    assert sorted(r["dataset"]["name"] for r in runs) == ["collection", "demo", "demo"]  # + curation's reference run
    assert (tmp_path / "demo" / "curated" / "curation.json").is_file()


@pytest.mark.browser
def test_a_dashboard_started_outside_the_project_accepts_2_gb_uploads(evaluate_server_url, page):
    page.goto(f"{evaluate_server_url}/evaluate")
    page.get_by_text("up to 2,048 MB").wait_for(timeout=90_000)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["eval", "--model", "timm:test_resnet", "--data", ".", "--setups", "1vs7"], "unknown setup(s) 1vs7"),
        (["eval", "--model", "keras:resnet50", "--data", "/no/such/folder"], "/no/such/folder is not a folder"),
        (["job", "cancel", "no-such-job"], "No job 'no-such-job'"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_status_2(capsys, tmp_path, argv, message):
    code, out, err = run_cli(capsys, *argv, "--results", tmp_path)
    assert code == 2 and err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1


def test_output_piped_into_a_reader_that_stops_early_ends_quietly():
    command = f"{sys.executable} -m engine.cli zoo | head -n 1"
    done = subprocess.run(command, shell=True, capture_output=True, text=True, cwd=REPO)
    assert len(done.stdout.splitlines()) == 1 and "Traceback" not in done.stderr


def test_a_broken_candidate_file_is_one_line(capsys, tmp_path, dataset_dir):
    broken = tmp_path / "candidates.json"
    broken.write_text('{"296": ["ice bear"]}')
    argv = ["eval", "--model", "timm:test_resnet", "--data", dataset_dir, "--candidates", broken, "--device", "cpu"]
    code, _, err = run_cli(capsys, *argv, "--results", tmp_path)
    assert code == 2 and "is not a 1 vs 20 candidate file" in err and len(err.strip().splitlines()) == 1


def test_checking_photos_needs_no_torch(dataset_dir):
    """`counteranimal data check` works in a dashboard-only installation (torch cannot be imported here)."""
    code = "import sys; sys.modules['torch'] = None; from engine.cli import main; sys.exit(main(sys.argv[1:]))"
    command = [sys.executable, "-c", code, "data", "check", str(dataset_dir), "--workers", "1"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "24 readable images" in done.stdout


def test_an_engine_command_without_the_engine_says_how_to_install_it(tmp_path):
    """`counteranimal demo` in a dashboard-only installation: one line naming `make engine`, no traceback."""
    code = "import sys; sys.modules['torch'] = None; from engine.cli import main; sys.exit(main(sys.argv[1:]))"
    command = [sys.executable, "-c", code, "demo", "--to", str(tmp_path / "demo")]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: this command needs the engine") and "make engine" in line


def test_job_submit_names_a_wrong_weight_path_even_when_the_dataset_is_wrong_too(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv(config.ROOTS_ENV, str(tmp_path / "weights"))
    weights, data = tmp_path / "elsewhere" / "w.safetensors", tmp_path / "no-dataset"
    argv = ["job", "submit", "--no-start", "--results", tmp_path / "results", "--data", data]
    code, _, err = run_cli(capsys, *argv, "--model", f"timm:test_resnet@{weights}")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"{weights} is outside" in err and f"{data} is outside" in err
