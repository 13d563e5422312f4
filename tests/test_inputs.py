"""What a browser may hand the engine: uploads stored under safe names, server paths confined to allowed roots."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from engine.cli import main
from engine.config import allowed_roots
from engine.jobs.inputs import InputError, resolve_allowed, resolve_request, safe_name, save_upload


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("ViT-B-16 epoch 30.pt", "ViT-B-16_epoch_30.pt"),
        ("../../etc/cron.d/evil.PT", "evil.pt"),
        ("..\\..\\windows\\evil.bin", "evil.bin"),
        (".hidden.safetensors", "hidden.safetensors"),
        ("模型.pth", "weights.pth"),
        ("a;rm -rf ~.ckpt", "a_rm_-rf.ckpt"),
    ],
)
def test_upload_names_are_sanitized(given, stored):
    assert safe_name(given) == stored


def test_an_upload_is_stored_under_the_results_folder_by_content(tmp_path):
    data = b"\x00" * 1000
    path, new = save_upload(tmp_path, "../../my model.safetensors", io.BytesIO(data), len(data), 10_000)
    assert new and path.parent == tmp_path / "uploads" and path.read_bytes() == data
    assert path.name.startswith("my_model-") and path.suffix == ".safetensors"
    again, new_again = save_upload(tmp_path, "my model.safetensors", io.BytesIO(data), len(data), 10_000)
    assert (again, new_again) == (path, False)  # the same file uploaded twice is stored once
    assert [p.name for p in (tmp_path / "uploads").iterdir() if p.name.startswith(".")] == []


def test_an_upload_over_the_limit_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(InputError, match=r"over the upload limit of 1 MB\. Copy it to the server"):
        save_upload(tmp_path, "big.pt", io.BytesIO(b""), 3 * 2**20, 2**20)
    assert not (tmp_path / "uploads").exists()


def test_an_upload_that_is_not_a_weight_file_is_refused(tmp_path):
    with pytest.raises(InputError, match=r"notes\.txt is not a weight file"):
        save_upload(tmp_path, "notes.txt", io.BytesIO(b"hello"), 5, 2**20)


@pytest.fixture
def roots(tmp_path: Path) -> list[Path]:
    (tmp_path / "allowed").mkdir()
    (tmp_path / "allowed" / "w.pt").write_bytes(b"x")
    (tmp_path / "secret.pt").write_bytes(b"x")
    return [(tmp_path / "allowed").resolve()]


def test_a_path_under_an_allowed_root_is_accepted(tmp_path, roots):
    assert resolve_allowed(str(tmp_path / "allowed" / "w.pt"), roots) == roots[0] / "w.pt"


def test_a_path_outside_the_allowed_roots_is_refused(tmp_path, roots):
    with pytest.raises(InputError, match="is outside the folders this dashboard may read.*COUNTERANIMAL_ALLOWED_ROOTS"):
        resolve_allowed(str(tmp_path / "secret.pt"), roots)


def test_dot_dot_is_refused_even_when_it_would_land_inside(tmp_path, roots):
    with pytest.raises(InputError, match="paths with `..` are not accepted"):
        resolve_allowed(str(tmp_path / "allowed" / ".." / "allowed" / "w.pt"), roots)


def test_a_symlink_that_escapes_the_allowed_roots_is_refused(tmp_path, roots):
    (roots[0] / "link.pt").symlink_to(tmp_path / "secret.pt")
    (roots[0] / "linked-folder").symlink_to(tmp_path, target_is_directory=True)
    for escape in (roots[0] / "link.pt", roots[0] / "linked-folder" / "secret.pt"):
        with pytest.raises(InputError, match="is outside the folders"):
            resolve_allowed(str(escape), roots)


def test_a_missing_file_is_named(roots):
    with pytest.raises(InputError, match="does not exist on the server"):
        resolve_allowed(str(roots[0] / "nothing.pt"), roots)


def test_allowed_roots_come_from_the_environment_and_always_include_data_and_results(tmp_path, monkeypatch):
    monkeypatch.setenv("COUNTERANIMAL_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("COUNTERANIMAL_ALLOWED_ROOTS", f"{tmp_path / 'a'}:{tmp_path / 'b'}")
    expected = [tmp_path / "a", tmp_path / "b", tmp_path / "data", tmp_path / "results"]
    assert allowed_roots(tmp_path / "results") == expected
    monkeypatch.delenv("COUNTERANIMAL_ALLOWED_ROOTS")
    assert allowed_roots(tmp_path / "r") == [Path("weights").resolve(), tmp_path / "data", tmp_path / "r"]


@pytest.mark.parametrize("text", ["~no-such-user-here/w.pt", "/tmp/a\x00b.pt", "/" + "x" * 5000])
def test_unusable_paths_get_a_message(text, roots):
    with pytest.raises(InputError):
        resolve_allowed(text, roots)


def test_the_upload_limit_counts_the_bytes_not_the_declared_size(tmp_path):
    with pytest.raises(InputError, match="over the upload limit"):
        save_upload(tmp_path, "liar.pt", io.BytesIO(b"x" * 5000), 10, 1000)
    assert list((tmp_path / "uploads").iterdir()) == []  # the partial copy is gone


# ---- `counteranimal job submit` checks the roots itself: the Evaluate page is not the only guard ----------------


@pytest.fixture
def submit_env(tmp_path, monkeypatch, tiny_timm, dataset_dir) -> dict[str, str]:
    """Weights and datasets that pass every other check, inside and outside the allowed roots."""
    (tmp_path / "allowed").mkdir()
    shutil.copy(tiny_timm, tmp_path / "allowed" / "mine.safetensors")
    shutil.copytree(dataset_dir, tmp_path / "outside" / "data")
    shutil.copy(tiny_timm, tmp_path / "outside" / "mine.safetensors")
    (tmp_path / "outside" / "clip").mkdir()
    monkeypatch.setenv("COUNTERANIMAL_ALLOWED_ROOTS", str(tmp_path / "allowed"))
    monkeypatch.setenv("COUNTERANIMAL_DATA", str(dataset_dir))  # the default dataset is always allowed
    return {"in": str(tmp_path / "allowed"), "out": str(tmp_path / "outside"), "data": str(dataset_dir)}


def _submit(tmp_path: Path, model: str, data: str, *options: str) -> int:
    return main(["job", "submit", *options, "--no-start", f"--results={tmp_path / 'results'}", model, data])


@pytest.mark.parametrize(
    ("model", "data"),
    [
        ("--model=timm:test_resnet@{in}/mine.safetensors", "--data={out}/data"),
        ("--model=timm:test_resnet@{out}/mine.safetensors", "--data={data}"),
        ("--model=open_clip:local-dir:{out}/clip", "--data={data}"),
    ],
    ids=["dataset", "weight file", "open_clip folder"],
)
def test_job_submit_refuses_paths_outside_the_allowed_roots(submit_env, tmp_path, capsys, model, data):
    assert _submit(tmp_path, model.format(**submit_env), data.format(**submit_env), "--json") == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert f"{submit_env['out']}/" in error and "is outside the folders this dashboard may read" in error
    assert not (tmp_path / "results" / "jobs").exists()  # nothing queued


def test_job_submit_without_json_says_why_on_stderr(submit_env, tmp_path, capsys):
    model = f"--model=timm:test_resnet@{submit_env['in']}/mine.safetensors"
    assert _submit(tmp_path, model, f"--data={submit_env['out']}/data") == 2
    assert f"error: {submit_env['out']}/data is outside the folders" in capsys.readouterr().err
    assert not (tmp_path / "results" / "jobs").exists()


def test_code_is_never_queued_for_the_dashboards_worker(tmp_path):
    with pytest.raises(InputError, match="runs Python code, which the dashboard's queue never does"):
        resolve_request("python:mylab.models:build", str(tmp_path), [tmp_path])
