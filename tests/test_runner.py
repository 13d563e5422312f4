"""Runs: identity, skipping identical re-runs, provenance, and surviving a kill at the worst moment."""

import json
import subprocess
import sys

import pyarrow.parquet as pq
import pytest
import torch

from engine import store
from engine.data import load_dataset
from engine.runner import EvalOptions, Evaluator
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


def test_models_with_one_recipe_share_one_image_cache(dataset_dir, tmp_path, tiny_clip, monkeypatch):
    evaluator = Evaluator(load_dataset(dataset_dir), options(tmp_path))
    evaluator.evaluate(f"open_clip:{TINY_CLIP}@{tiny_clip}")
    from engine import images

    monkeypatch.setattr(images, "_build", lambda *a: pytest.fail("decoded twice"))
    copy = tmp_path / "copy.pt"
    copy.write_bytes(tiny_clip.read_bytes() + b"")  # same weights, another file: another model, same recipe
    evaluator.evaluate(f"open_clip:{TINY_CLIP}@{copy}")
    assert len(evaluator.caches) == 1


KILL_SCRIPT = """
import os, signal, sys
from pathlib import Path
import open_clip, torch
open_clip.add_model_config(Path(sys.argv[1]))
from engine import store
from engine.data import load_dataset
from engine.runner import EvalOptions, Evaluator
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
    assert store.list_runs(results) == [] and store.run_metrics(results).empty
    assert list((results / store.PARTIAL).iterdir())  # the half-written run is there, but invisible

    dataset = load_dataset(dataset_dir)
    rerun = Evaluator(dataset, options(tmp_path)).evaluate(clip_spec)
    clean = Evaluator(dataset, options(tmp_path / "clean")).evaluate(clip_spec)
    assert rerun.run_id == clean.run_id and not rerun.skipped
    assert pq.read_table(rerun.path / "predictions.parquet").equals(pq.read_table(clean.path / "predictions.parquet"))


def test_prefetched_caches_are_built_in_the_background_and_reused(dataset_dir, tmp_path, clip_spec, monkeypatch):
    from engine import images
    from engine.models import model_recipe

    evaluator = Evaluator(load_dataset(dataset_dir), options(tmp_path, workers=2))
    evaluator.prefetch([model_recipe(clip_spec)])
    (future,) = evaluator.caches.values()
    assert len(future.result(timeout=60).image_ids) == 24
    monkeypatch.setattr(images, "_build", lambda *a: pytest.fail("built twice"))
    assert not evaluator.evaluate(clip_spec).skipped
