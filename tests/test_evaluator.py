"""Runs: identity, skipping identical re-runs, provenance, and surviving a kill at the worst moment."""

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch

from engine.dataset.reader import load_dataset
from engine.inference.evaluator import EvalOptions, Evaluator
from engine.runs import store
from engine.runs.views import run_metrics
from tests.conftest import TINY_CLIP


def options(tmp_path, **overrides) -> EvalOptions:
    base = {
        "results": tmp_path / "results",
        "cache": tmp_path / "cache",
        "device": torch.device("cpu"),
        "workers": 1,
        "batch_size": 7,
        "progress": False,
    }
    return EvalOptions(**(base | overrides))


@pytest.fixture
def clip_spec(tiny_clip):
    return f"open_clip:{TINY_CLIP}@{tiny_clip}"


def test_a_run_records_its_provenance(dataset_dir, tmp_path, clip_spec):
    outcome = Evaluator(load_dataset(dataset_dir), options(tmp_path)).evaluate(clip_spec)
    manifest = json.loads((outcome.path / "run.json").read_text())
    assert manifest["run_id"] == outcome.run_id == outcome.path.name
    assert manifest["model"]["spec"] == clip_spec and len(manifest["model"]["checkpoint"]["sha256"]) == 64
    assert manifest["labels"]["templates"] == ["A photo of {}."] and manifest["labels"]["classnames"] == "wordnet"
    assert manifest["precision"] == "fp32" and manifest["images"] == {"listed": 24, "evaluated": 24}
    assert {"torch", "open_clip_torch"} <= set(manifest["packages"]) and manifest["finished_at"]
    assert pq.read_table(outcome.path / "predictions.parquet").num_rows == 24


def test_an_identical_rerun_is_skipped_and_force_redoes_it(dataset_dir, tmp_path, clip_spec):
    dataset = load_dataset(dataset_dir)
    first = Evaluator(dataset, options(tmp_path)).evaluate(clip_spec)
    again = Evaluator(dataset, options(tmp_path)).evaluate(clip_spec)
    forced = Evaluator(dataset, options(tmp_path, force=True)).evaluate(clip_spec)
    assert (again.skipped, again.run_id) == (True, first.run_id)
    assert (forced.skipped, forced.run_id) == (False, first.run_id)


def test_anything_that_changes_predictions_changes_the_run_id(dataset_dir, tmp_path, clip_spec):
    dataset = load_dataset(dataset_dir)
    ids = {
        Evaluator(dataset, options(tmp_path)).evaluate(clip_spec).run_id,
        Evaluator(dataset, options(tmp_path, classnames="openai")).evaluate(clip_spec).run_id,
        Evaluator(dataset, options(tmp_path, setups=("1vs1000",))).evaluate(clip_spec).run_id,
    }
    assert len(ids) == 3


def counting_cache_builds(monkeypatch) -> list[tuple[str, str]]:
    """Record every image-cache request the evaluator makes: (recipe key, thread name)."""
    import threading

    from engine.inference import evaluator

    calls, real = [], evaluator.load_or_build_cache

    def counted(*args, **kwargs):
        calls.append((args[1].key, threading.current_thread().name))
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluator, "load_or_build_cache", counted)
    return calls


def test_models_with_one_recipe_share_one_image_cache(dataset_dir, tmp_path, tiny_clip, tiny_timm, monkeypatch):
    calls = counting_cache_builds(monkeypatch)
    evaluator = Evaluator(load_dataset(dataset_dir), options(tmp_path))
    torch.manual_seed(1)
    other = tmp_path / "other.pt"  # other weights for the same architecture: another model, the same recipe
    import open_clip

    torch.save(open_clip.create_model(TINY_CLIP).state_dict(), other)
    evaluator.evaluate(f"open_clip:{TINY_CLIP}@{tiny_clip}")
    evaluator.evaluate(f"open_clip:{TINY_CLIP}@{other}")
    evaluator.evaluate(f"timm:test_resnet@{tiny_timm}")  # another recipe: its own cache
    assert len(calls) == 2 and len({key for key, _ in calls}) == 2


KILL_SCRIPT = """
import os, signal, sys
from pathlib import Path
import open_clip, torch
open_clip.add_model_config(Path(sys.argv[1]))
from engine.runs import store
from engine.dataset.reader import load_dataset
from engine.inference.evaluator import EvalOptions, Evaluator
write_table = store.pq.write_table
def write_then_die(*args, **kwargs):
    write_table(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)  # killed after the predictions, before the manifest: the worst moment
store.pq.write_table = write_then_die
options = EvalOptions(results=Path(sys.argv[3]), cache=Path(sys.argv[4]), device=torch.device("cpu"), workers=1,
                      batch_size=7, progress=False)
Evaluator(load_dataset(Path(sys.argv[2])), options).evaluate(sys.argv[5])
"""


def test_a_run_killed_halfway_leaves_no_run_and_the_rerun_equals_an_uninterrupted_one(
    dataset_dir, tmp_path, clip_spec, tiny_clip
):
    config = tiny_clip.parent / f"{TINY_CLIP}.json"
    results, cache = tmp_path / "results", tmp_path / "cache"
    command = [sys.executable, "-c", KILL_SCRIPT, str(config), str(dataset_dir), str(results), str(cache), clip_spec]
    killed = subprocess.run(command, capture_output=True)
    assert killed.returncode == -9, killed.stderr.decode()[-2000:]
    assert store.list_runs(results) == [] and run_metrics(results).empty
    assert list((results / store.PARTIAL).iterdir())  # the half-written run is there, but invisible

    dataset = load_dataset(dataset_dir)
    rerun = Evaluator(dataset, options(tmp_path)).evaluate(clip_spec)
    clean = Evaluator(dataset, options(tmp_path / "clean")).evaluate(clip_spec)
    assert rerun.run_id == clean.run_id and not rerun.skipped
    assert pq.read_table(rerun.path / "predictions.parquet").equals(pq.read_table(clean.path / "predictions.parquet"))


def test_prefetched_caches_are_built_in_the_background_and_reused(dataset_dir, tmp_path, clip_spec, monkeypatch):
    from engine.models import model_recipe

    calls = counting_cache_builds(monkeypatch)
    with Evaluator(load_dataset(dataset_dir), options(tmp_path, workers=2)) as evaluator:
        evaluator.prefetch([model_recipe(clip_spec)])
        (future,) = evaluator.caches.values()
        assert len(future.result(timeout=60).image_ids) == 24
        assert not evaluator.evaluate(clip_spec).skipped
    assert len(calls) == 1 and calls[0][1].startswith("image-cache")  # built once, off the main thread


def test_the_same_weights_elsewhere_are_the_same_run(dataset_dir, tmp_path, tiny_clip, clip_spec):
    moved = tmp_path / "elsewhere" / "weights.pt"
    moved.parent.mkdir()
    moved.write_bytes(tiny_clip.read_bytes())
    dataset = load_dataset(dataset_dir)
    first = Evaluator(dataset, options(tmp_path)).evaluate(clip_spec)
    again = Evaluator(dataset, options(tmp_path)).evaluate(f"open_clip:{TINY_CLIP}@{moved}")
    assert again.skipped and again.run_id == first.run_id


def test_prompts_and_candidates_are_part_of_the_run_identity(dataset_dir, tmp_path, clip_spec):
    import json

    from engine.inference.provenance import run_identity
    from engine.models import load_model

    dataset = load_dataset(dataset_dir)
    model = load_model(clip_spec, torch.device("cpu"))
    base = run_identity(model, dataset, options(tmp_path), "candidates-a")
    assert run_identity(model, dataset, options(tmp_path, templates="openai80"), "candidates-a") != base
    assert run_identity(model, dataset, options(tmp_path), "candidates-b") != base
    assert json.dumps(base).count(str(tmp_path)) == 0  # no paths in the identity


def test_a_dataset_with_too_many_unreadable_photos_is_refused(dataset_dir, tmp_path, clip_spec):
    import shutil

    from engine.dataset.reader import DatasetError

    copy = shutil.copytree(dataset_dir, tmp_path / "data")
    for photo in sorted(copy.rglob("*.jpg"))[:3]:
        photo.write_bytes(b"not a photo")
    with pytest.raises(DatasetError, match="3 photos .* cannot be read"):
        Evaluator(load_dataset(copy), options(tmp_path)).evaluate(clip_spec)


def test_skipped_photos_are_recorded_in_the_run(dataset_dir, tmp_path, clip_spec, monkeypatch):
    import shutil

    from engine.inference import evaluator

    monkeypatch.setattr(evaluator, "MAX_UNREADABLE_SHARE", 0.5)
    copy = shutil.copytree(dataset_dir, tmp_path / "data")
    broken = sorted(copy.rglob("*.jpg"))[0]
    broken.write_bytes(broken.read_bytes()[:300])
    (broken.parent / "notes.txt").write_text("field notes")
    (broken.parent / "empty.jpg").write_bytes(b"")
    outcome = Evaluator(load_dataset(copy), options(tmp_path)).evaluate(clip_spec)
    manifest = json.loads((outcome.path / "run.json").read_text())
    reasons = {Path(s["image_id"]).name: s["reason"] for s in manifest["skipped_files"]}
    assert set(reasons) == {broken.name, "notes.txt", "empty.jpg"} and reasons["empty.jpg"] == "empty file"
    assert manifest["images"] == {"listed": 26, "evaluated": 23}  # 24 photos + 2 files, 3 of them unreadable


@pytest.mark.parametrize("workers", [1, 2])
def test_progress_reaches_every_photo_with_the_terminal_bars_off(dataset_dir, tmp_path, clip_spec, workers):
    """A job's card reads these reports; with bars off (a job's process) they counted nothing once."""
    reports: list[tuple[str, int, int]] = []
    opts = options(tmp_path, progress=False, workers=workers, batch_size=5, on_progress=lambda *r: reports.append(r))
    Evaluator(load_dataset(dataset_dir), opts).evaluate(clip_spec)
    photos = len(load_dataset(dataset_dir).images)
    for stage in ("decoding photos", "scoring photos"):
        counts = [done for name, done, total in reports if name == stage and total == photos]
        assert counts[-1] == photos and counts == sorted(counts), stage
