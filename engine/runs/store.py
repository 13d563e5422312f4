"""Where runs live and how they are written: atomically, under a content-derived id. Torch-free.

    results/runs/<run_id>/run.json              provenance of one evaluation
    results/runs/<run_id>/predictions.parquet   one row per image
    results/.partial/<run_id>-<pid>/            a run being written; renamed into runs/ when complete

A run's id is a hash of everything that determines its predictions, so re-running the same thing finds it done.
Every run is written through `write_run`, which holds it to the run format (`engine.runs.format`).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from engine.files import digest, remove_orphans
from engine.runs.format import PREDICTIONS_SCHEMA, RunManifest

RUNS, PARTIAL = "runs", ".partial"


def run_id(identity: dict) -> str:
    """A stable id for everything that determines the predictions (model, weights, data, labels, preprocessing)."""
    return digest(identity)


def run_path(results: Path, rid: str) -> Path:
    return Path(results) / RUNS / rid


def is_complete(results: Path, rid: str) -> bool:
    return (run_path(results, rid) / "run.json").is_file()


def sweep_partials(results: Path) -> None:
    """Remove the half-written runs of processes that are gone (killed mid-write): they are never visible, but
    they take disk space."""
    remove_orphans((Path(results) / PARTIAL).glob("*-*"))


def write_run(results: Path, manifest: RunManifest, predictions: pa.Table) -> Path:
    """Write a run under a temporary name and move it into place only when complete. An existing run with the same
    id (a forced re-run) is replaced only after the new one is fully written; if another process completes the same
    run meanwhile, theirs stands (the id says the predictions are the same).

    Raises:
        ValueError: predictions that do not have the run format's schema (a bug in their writer).
    """
    if not predictions.schema.equals(PREDICTIONS_SCHEMA):
        expected = f"expected:\n{PREDICTIONS_SCHEMA}"
        raise ValueError(f"predictions do not follow the run format:\n{predictions.schema}\n{expected}")
    results, rid = Path(results), manifest.run_id
    sweep_partials(results)
    partial = results / PARTIAL / f"{rid}-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        pq.write_table(predictions, partial / "predictions.parquet", compression="zstd")
        _write_manifest(partial / "run.json", manifest.to_json())  # last: its presence marks the run complete
        final = run_path(results, rid)
        final.parent.mkdir(parents=True, exist_ok=True)
        _move_into_place(partial, final, results / PARTIAL / f"{rid}-replaced-{os.getpid()}")
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return final


def _move_into_place(partial: Path, final: Path, retired: Path) -> None:
    replacing = final.exists()
    if replacing:
        final.rename(retired)
    try:
        partial.rename(final)
    except OSError:
        if replacing and not final.exists():
            retired.rename(final)  # the earlier run goes back: a failed re-run damages nothing
            raise
        if not (final / "run.json").is_file():  # anything but "another writer of the same run finished first"
            raise
    if replacing:
        shutil.rmtree(retired, ignore_errors=True)


def rename_run(results: Path, rid: str, name: str) -> bool:
    """Give a complete run another display name (`model.name` in run.json), replacing run.json atomically; whether it
    changed. The name is not part of a run's identity, so an identical re-run under a new name renames the run."""
    path = run_path(results, rid) / "run.json"
    manifest = json.loads(path.read_text())
    if manifest["model"].get("name") == name:
        return False
    manifest["model"]["name"] = name
    _write_manifest(path, manifest)
    return True


def _write_manifest(path: Path, manifest: dict) -> None:
    """run.json, written whole under a temporary name and renamed: a reader sees the old or the new one."""
    partial = path.with_name(f".run.json.{os.getpid()}.partial")
    partial.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    partial.replace(path)


def list_runs(results: Path) -> list[dict]:
    """Manifests of the complete runs, oldest first."""
    manifests = [json.loads(p.read_text()) for p in (Path(results) / RUNS).glob("*/run.json")]
    return sorted(manifests, key=lambda m: m.get("started_at", ""))
