"""The driver of a cluster evaluation: one Ray task per model (or per photo shard of a large one), progress bars,
and each finished run written here with `store.write_run`, so a run made on the cluster is the run made locally.

A worker or node lost mid-model is retried by Ray (the task starts over; the run comes out the same); a model that
fails (a bad checkpoint) fails alone with its message; Ctrl-C cancels every task."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from engine.dataset.reader import Dataset
from engine.distributed.cluster import alive_nodes, cluster_gpus, driver_node_id, import_ray
from engine.distributed.photos import pack
from engine.distributed.placement import Nodes, placement
from engine.distributed.progress import Bars, Listener, ProgressBoard
from engine.distributed.shards import join
from engine.distributed.tasks import Part, PartResult, Setting, evaluate_part
from engine.errors import UserError
from engine.inference.evaluator import EvalOptions
from engine.runs import store

MAX_RETRIES = 3  # a task whose worker or node died starts over this many times before its model fails
POLL_S = 0.5  # how often the driver redraws progress while it waits


@dataclass(frozen=True)
class ClusterRequest:
    """What to evaluate on the cluster, and how."""

    specs: tuple[str, ...]
    names: tuple[str | None, ...] = ()  # display names, by position (a job's name); none: from the spec
    device: str = "auto"  # resolved on each worker
    shards: int = 1  # photo shards per model (data parallel): for a large model on many GPUs
    gpus_per_model: float | None = None  # None: from the model's size (placement.py)
    ship_photos: bool | None = None  # None: when the cluster has a node besides the driver's
    show_progress: bool = True
    listener: Listener | None = None  # (spec, stage, done, total) of each model, e.g. for a job's page


@dataclass(frozen=True)
class ClusterOutcome:
    """What happened to one model."""

    spec: str
    run_id: str | None
    path: Path | None
    skipped: bool = False  # an identical run existed
    error: str | None = None  # why the model failed, in one line
    nodes: tuple[str, ...] = ()  # where its parts ran
    built: tuple[str, ...] = ()  # image caches its parts built (recipe keys); empty where they found them built
    seconds: dict | None = None


def evaluate_on_cluster(dataset: Dataset, options: EvalOptions, request: ClusterRequest) -> list[ClusterOutcome]:
    """Evaluate every model of the request on the connected cluster; outcomes in the request's order."""
    ray = import_ray()
    watched = request.show_progress or request.listener is not None
    board = ray.remote(ProgressBoard).options(num_cpus=0).remote() if watched else None  # a process of its own
    setting = _setting(dataset, options, request)
    tasks, refused = _submit(ray.put(setting), request, board, setting.threads)
    bars = Bars(list(request.specs), request.show_progress, request.listener)
    for index in refused:
        bars.finish(index, "failed", complete=False)
    try:
        return _collect(tasks, refused, dataset, options, request, board, bars)
    except BaseException:  # Ctrl-C (KeyboardInterrupt) or anything else: no task is left running
        for ref in tasks:
            ray.cancel(ref, force=True)
        raise
    finally:
        bars.close()
        if board is not None:
            ray.kill(board)


def _setting(dataset: Dataset, options: EvalOptions, request: ClusterRequest) -> Setting:
    import torch

    ship = request.ship_photos
    if ship is None:
        ship = any(node["NodeID"] != driver_node_id() for node in alive_nodes())
    known = () if options.force else (p.parent.name for p in (Path(options.results) / store.RUNS).glob("*/run.json"))
    return Setting(
        options=replace(options, progress=False, on_progress=None),
        device=request.device,
        threads=torch.get_num_threads(),
        dataset_root=str(dataset.root),
        fingerprint=dataset.fingerprint,
        shipped=pack(dataset) if ship else None,
        candidates=Path(options.candidates).read_bytes() if options.candidates else None,
        known=frozenset(known),
    )


def _submit(setting: object, request: ClusterRequest, board: object, threads: int) -> tuple[dict, dict]:
    """One task per part, sized for its model: ({ObjectRef: Part}, {model index: the outcome of a model refused before
    any task ran (an unknown spec, a model larger than a node)})."""
    ray = import_ray()
    resources = [node["Resources"] for node in alive_nodes()]
    nodes = Nodes(
        gpus=cluster_gpus() if request.device != "cpu" else 0,  # --device cpu on a GPU cluster: CPUs only
        gpus_per_node=max((r.get("GPU", 0) for r in resources), default=0),
        cpus_per_node=max((r.get("CPU", 0) for r in resources), default=1),
    )
    remote = ray.remote(evaluate_part)
    tasks, refused = {}, {}
    for index, spec in enumerate(request.specs):
        name = request.names[index] if index < len(request.names) else None
        try:
            where = placement(spec, nodes, threads, request.gpus_per_model)
        except UserError as error:  # this model alone
            refused[index] = ClusterOutcome(spec, None, None, error=str(error))
            continue
        task = remote.options(num_cpus=where.num_cpus, num_gpus=where.num_gpus, max_retries=MAX_RETRIES)
        for shard in range(request.shards):
            part = Part(index, spec, name, shard, request.shards)
            tasks[task.remote(setting, part, board)] = part
    return tasks, refused


def _collect(
    tasks: dict, refused: dict, dataset: Dataset, options: EvalOptions, request: ClusterRequest, board, bars: Bars
) -> list[ClusterOutcome]:
    """Wait for the parts, writing each model's run as soon as all its parts are in."""
    ray = import_ray()
    pending, parts, outcomes = list(tasks), {}, dict(refused)
    while pending:
        ready, pending = ray.wait(pending, num_returns=len(pending), timeout=POLL_S, fetch_local=False)
        if board is not None:
            bars.update(ray.get(board.snapshot.remote()))
        for ref in ready:
            part = tasks[ref]
            if part.index in outcomes:
                continue  # another shard of the model failed: it is done
            try:
                parts.setdefault(part.index, []).append(ray.get(ref))
            except Exception as error:  # this model fails alone; its other shards stop
                outcomes[part.index] = ClusterOutcome(part.spec, None, None, error=failure_message(error))
                _cancel_model(tasks, pending, part.index)
                bars.finish(part.index, "failed", complete=False)
                continue
            if len(parts[part.index]) == request.shards:
                outcomes[part.index] = _write(parts.pop(part.index), dataset, options)
                bars.finish(part.index, "skipped" if outcomes[part.index].skipped else "written", complete=True)
    return [outcomes[i] for i in range(len(request.specs))]


def _cancel_model(tasks: dict, pending: list, index: int) -> None:
    ray = import_ray()
    for ref in pending:
        if tasks[ref].index == index:
            ray.cancel(ref, force=True)


def _write(results: list[PartResult], dataset: Dataset, options: EvalOptions) -> ClusterOutcome:
    """Write one model's run from its parts (or note that an identical run exists)."""
    results = sorted(results, key=lambda r: r.part.shard)
    first = results[0]
    spec, rid = first.part.spec, first.run_id
    nodes = tuple(sorted({r.node for r in results}))
    built = tuple(sorted({key for r in results for key in r.built}))
    if any(r.computed is None for r in results):
        if first.part.name and store.is_complete(options.results, rid):
            store.rename_run(options.results, rid, first.part.name)
        return ClusterOutcome(spec, rid, store.run_path(options.results, rid), skipped=True, nodes=nodes)
    joined = join([r.computed for r in results])
    manifest = _as_the_driver_names_it(joined.manifest, dataset, options, nodes)
    path = store.write_run(options.results, manifest, joined.table)
    return ClusterOutcome(spec, rid, path, nodes=nodes, built=built, seconds=manifest.seconds)


def _as_the_driver_names_it(manifest, dataset: Dataset, options: EvalOptions, nodes: tuple[str, ...]):
    """run.json with the driver's names for the dataset and the candidate file (a node's copies lie elsewhere), and
    the nodes the run was computed on."""
    from engine.inference.labels import default_candidates_path

    labels = dict(manifest.labels)
    if labels.get("candidates") is not None:
        labels["candidates"] = str(options.candidates or default_candidates_path())
    return replace(
        manifest,
        dataset={**manifest.dataset, "root": str(dataset.root)},
        labels=labels,
        device=f"{manifest.device} on Ray node {', '.join(nodes)}",
    )


def failure_message(error: BaseException) -> str:
    """A failed task's reason in one line: the model's own error (a bad checkpoint says what is wrong with it), or
    what Ray says happened to the task (a worker lost more often than it is retried)."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, UserError):
        return str(cause)
    if cause is not None:
        return f"{type(cause).__name__}: {_first_line(cause)}"
    return f"{type(error).__name__}: {_first_line(error)}"


def _first_line(error: BaseException) -> str:
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return lines[0] if lines else "no message"
