"""What one Ray task does on its node: evaluate one model (or one photo shard of it) and hand the run back unwritten.

The task loads the model where it runs, derives the run's identity exactly as a local evaluation does, skips a run the
driver already has, builds each image cache once per node (a node lock: the first task builds, the others read), and
returns the predictions as an Arrow table with their run.json; the driver writes them."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from engine.distributed.node import find_dataset, node_cache, node_lock
from engine.distributed.photos import ShippedDataset
from engine.distributed.shards import shard_of
from engine.files import digest
from engine.inference.evaluator import ComputedRun, EvalOptions, Evaluator
from engine.inference.image_cache import ImageCache, cache_key
from engine.models import LoadedModel, load_model, parse_spec
from engine.runs.format import predictions_table
from engine.zoo.catalog import VLM_SOURCES
from engine.zoo.specs import ModelError, Spec

REPORT_EVERY_S = 0.25  # progress messages to the driver: at stage changes, else at most this often


@dataclass(frozen=True)
class Part:
    """One task's share of a request: a model, or one photo shard of it."""

    index: int  # the model's position in the request
    spec: str
    name: str | None = None  # how the dashboard shows the run (not part of its identity)
    shard: int = 0
    shards: int = 1

    @property
    def key(self) -> str:
        return f"{self.index}/{self.shard}"


@dataclass(frozen=True)
class Setting:
    """What every task of a request shares."""

    options: EvalOptions  # as the driver would evaluate locally (device, cache and candidates: re-resolved per node)
    device: str  # "auto", "cpu" or "cuda", resolved on each worker: the driver itself may have no GPU
    threads: int  # the driver's torch CPU threads: on a CPU, scores depend on it in their last bits
    dataset_root: str
    fingerprint: str
    shipped: ShippedDataset | None  # the photos, for nodes without a copy
    candidates: bytes | None  # the 1 vs 20 file's content, so nodes need no copy of it
    known: frozenset[str]  # complete runs in the driver's results folder: skipped unless `options.force`


@dataclass(frozen=True)
class PartResult:
    part: Part
    run_id: str
    computed: ComputedRun | None  # None: an identical run exists (skipped)
    node: str  # the node's address and the start of its id (several nodes may share a machine)
    built: tuple[str, ...]  # image caches (recipe keys) this task built on its node; empty if it found them built


def evaluate_part(setting: Setting, part: Part, progress: object | None = None) -> PartResult:
    """Run one part on this worker (a Ray task; `progress` is the driver's ProgressBoard actor, or None)."""
    import ray
    import torch

    from engine.inference.devices import resolve_device

    device = resolve_device(setting.device)
    if device.type == "cpu":
        torch.set_num_threads(setting.threads)
    cache = node_cache(setting.options.cache)
    dataset = find_dataset(setting.dataset_root, setting.fingerprint, setting.shipped, cache)
    options = replace(
        setting.options, device=device, cache=cache, candidates=_candidates_file(setting.candidates, cache),
        # Bars on: the evaluator reports a tqdm bar's count, which a disabled bar never advances. They go to the
        # worker's log, not the driver's terminal (which draws its own).
        progress=progress is not None, on_progress=_reporter(progress, part),
    )  # fmt: skip
    if options.on_progress:
        options.on_progress("loading the model", 0, 0)
    node = f"{ray.util.get_node_ip_address()}/{ray.get_runtime_context().get_node_id()[:8]}"  # address/id: unique
    spec = parse_spec(part.spec)
    _require_local_files(spec, node)
    with Evaluator(dataset, options) as evaluator:
        clock = time.perf_counter()
        if spec.kind in VLM_SOURCES:
            evaluator.check_vlm(part.spec)
        model = load_model(part.spec, device)
        identity, rid = evaluator.identity(model)
        if rid in setting.known and not options.force:
            return PartResult(part, rid, None, node, ())
        load_seconds, clock = time.perf_counter() - clock, time.perf_counter()
        built, pixels = _image_cache(evaluator, model, part, cache)
        decoding = time.perf_counter() - clock  # this node's cache: built here, or waited for (another task builds)
        if part.shards > 1 and pixels is None:  # a shard without photos: nothing to score
            empty = ComputedRun(None, predictions_table({"image_id": []}))  # no run.json: the join takes shard 0's
            return PartResult(part, rid, empty, node, built)
        computed = evaluator.compute_run(model, identity, load_seconds, part.name, pixels)
    seconds = computed.manifest.seconds
    seconds["cache_wait"] = round(seconds.get("cache_wait", 0.0) + decoding, 3)
    return PartResult(part, rid, computed, node, built)


def _require_local_files(spec: Spec, node: str) -> None:
    """Refuse, naming the node, a spec whose local weights (a file or folder on the driver's machine) are not on this
    node: they are not shipped, and the loader's own error would not say where it looked."""
    local = spec.file or spec.folder
    if local is not None and not local.exists():
        raise ModelError(
            f"{local} is not on Ray node {node}: local weights must lie at the same path on every node (copy them "
            "there, e.g. with rsync -a), or use weights from the hub."
        )


def _image_cache(
    evaluator: Evaluator, model: LoadedModel, part: Part, cache: Path
) -> tuple[tuple[str, ...], ImageCache | None]:
    """(recipes built here, the pixels this part scores): the model's image cache, built by the first task on this
    node that needs it, and this part's shard of it."""
    if model.recipe is None:
        if part.shards > 1:
            raise ModelError(
                f"{part.spec} decodes each photo its own way (no image cache): it cannot be split by photos"
            )
        return (), None
    key = cache_key(evaluator.dataset, model.recipe)
    with node_lock(cache, f"images-{key}"):
        found = (cache / "images" / key / "index.json").is_file()
        whole = evaluator.image_cache(model)
    built = () if found else (model.recipe.key,)
    return built, shard_of(whole, evaluator.options.batch_size, part.shard, part.shards)


def _candidates_file(content: bytes | None, cache: Path) -> Path | None:
    """The driver's 1 vs 20 file, written once into this node's cache under its content's name (None: the published
    reconstruction, which every installation has)."""
    if content is None:
        return None
    path = cache / "shipped" / f"candidates-{digest(content.decode())}.json"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{time.monotonic_ns()}.partial")
        partial.write_bytes(content)
        partial.replace(path)
    return path


def _reporter(progress: object | None, part: Part) -> Callable[[str, int, int], None] | None:
    """The evaluator's progress callback, sent to the driver's board: stage changes at once, counts throttled."""
    if progress is None:
        return None
    last = {"stage": None, "at": 0.0}

    def report(stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage == last["stage"] and now - last["at"] < REPORT_EVERY_S and done < total:
            return
        last.update(stage=stage, at=now)
        progress.report.remote(part.key, stage, done, total)

    return report
