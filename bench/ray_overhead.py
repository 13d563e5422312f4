"""Ray's overhead: the same 4 tiny models evaluated in one process and on a local Ray cluster.

- serial: `Evaluator.evaluate` in this process, one model after another (image caches built inside the timing);
- 1 worker: a local cluster of 1 CPU, so tasks run one after another: its wall time minus the serial one, per model,
  is what Ray adds (task scheduling, worker processes and their imports, tables back to the driver);
- 2 workers: a local cluster of 2 CPUs, models in parallel.
Every model uses --threads torch threads (default 1), in this process and on the workers: a CPU's scores depend
on the thread count in their last bits, so the cluster's runs equal the serial ones only with the same count, and on a
CPU cluster a task holds as many CPUs as it has threads. Each cluster runs cold (fresh worker processes, which import
torch; empty caches) and warm (workers reused, caches built: what every later command on a long-lived cluster sees;
the fastest of --repeat runs). Cluster start-up is not timed. Every cluster run is checked to give the serial runs
byte for byte.

Goals (issue 16): under 1 s of overhead per model; 2 workers <= 0.7x serial where the work is CPU-bound.

    .venv/bin/python bench/ray_overhead.py [--images-per-group 30] [--size 224]

Figures go to bench/results/ray_overhead.json and a summary to stdout. On a machine shared with other work the
seconds move; the ratios are the figures to quote.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import secrets
import tempfile
import time
from datetime import date
from pathlib import Path

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # Ray on 127.0.0.1 only
os.environ["RAY_AUTH_MODE"] = "token"  # a token of this run's own, by environment (nothing in ~/.ray)
os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import ray  # noqa: E402
import timm  # noqa: E402
import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

from engine.dataset.reader import Dataset, load_dataset  # noqa: E402
from engine.dataset.synthetic import write_dataset  # noqa: E402
from engine.distributed import ClusterRequest, evaluate_on_cluster  # noqa: E402
from engine.inference.evaluator import EvalOptions, Evaluator  # noqa: E402

OUTPUT = Path(__file__).resolve().parent / "results" / "ray_overhead.json"
SETTLE_S = 5  # after a cluster starts, its own agents spend a few CPU-seconds starting up: not Ray's cost per model
MODELS = ("test_resnet", "test_vit", "test_efficientnet", "test_convnext")  # timm's tiny models, built offline


def tiny_models(folder: Path) -> list[str]:
    specs = []
    for name in MODELS:
        torch.manual_seed(0)
        weights = folder / f"{name}.safetensors"
        save_file(timm.create_model(name, pretrained=False).state_dict(), str(weights))
        specs.append(f"timm:{name}@{weights}")
    return specs


def options(root: Path, batch_size: int, force: bool) -> EvalOptions:
    """`force`: a second, warm run redoes the runs the first one wrote (else it would skip them)."""
    return EvalOptions(root / "results", root / "cache", torch.device("cpu"), workers=1, batch_size=batch_size,
                       force=force, progress=False)  # fmt: skip


def serial(dataset: Dataset, specs: list[str], root: Path, batch: int, force: bool) -> tuple[float, dict[str, str]]:
    start = time.perf_counter()
    with Evaluator(dataset, options(root, batch, force)) as evaluator:
        outcomes = [evaluator.evaluate(spec) for spec in specs]
    return time.perf_counter() - start, {o.run_id: _sha(o.path) for o in outcomes}


def on_cluster(dataset: Dataset, specs: list[str], root: Path, batch: int, force: bool) -> tuple[float, dict[str, str]]:
    request = ClusterRequest(tuple(specs), device="cpu", show_progress=False)
    start = time.perf_counter()
    outcomes = evaluate_on_cluster(dataset, options(root, batch, force), request)
    seconds = time.perf_counter() - start
    if failed := [o.error for o in outcomes if o.error]:
        raise RuntimeError(f"a model failed on the cluster: {failed}")
    return seconds, {o.run_id: _sha(o.path) for o in outcomes}


def _sha(run: Path) -> str:
    return hashlib.sha256((run / "predictions.parquet").read_bytes()).hexdigest()


def best_of(repeat: int, run) -> tuple[float, dict[str, str]]:
    """The fastest of `repeat` runs (other work on the machine only ever adds time), with its runs."""
    return min((run() for _ in range(repeat)), key=lambda result: result[0])


def cluster_pair(
    cpus: int, dataset: Dataset, specs: list[str], root: Path, batch: int, expected: dict, repeat: int
) -> dict:
    """(cold, warm) wall seconds on a fresh local cluster of `cpus` CPUs; both runs checked against the serial ones."""
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, _temp_dir=str(root / f"ray{cpus}"))
    time.sleep(SETTLE_S)
    try:
        cold, runs_cold = on_cluster(dataset, specs, root / f"cluster{cpus}", batch, force=False)
        warm, runs_warm = best_of(
            repeat, lambda: on_cluster(dataset, specs, root / f"cluster{cpus}", batch, force=True)
        )
    finally:
        ray.shutdown()
    if not runs_cold == runs_warm == expected:
        raise RuntimeError("a cluster run differs from the serial run")
    return {"cold_s": round(cold, 2), "warm_s": round(warm, 2)}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images-per-group", type=int, default=30, help="photos per class and background (3 classes)")
    parser.add_argument("--size", type=int, default=224, help="the photos' shorter side, px (decoding is CPU work)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads per model, here and on every worker (the same runs need "
        "the same count; on a CPU cluster each task holds that many CPUs, so 1 lets two models run on two cores)",
    )  # fmt: skip
    parser.add_argument("--repeat", type=int, default=3, help="warm runs per setting; the fastest counts")
    return parser.parse_args()


def measure(args: argparse.Namespace) -> dict:
    """Serial, then one and two workers, each cold and warm, on a dataset and models made here; the report."""
    with tempfile.TemporaryDirectory(prefix="ray-bench-") as tmp:
        root = Path(tmp)
        sizes = (args.size, args.size * 3 // 2)
        dataset = load_dataset(write_dataset(root / "data", [9, 100, 296], args.images_per_group, sizes=sizes))
        specs = tiny_models(root)
        serial_cold, expected = serial(dataset, specs, root / "serial", args.batch_size, force=False)
        serial_warm, again = best_of(
            args.repeat, lambda: serial(dataset, specs, root / "serial", args.batch_size, force=True)
        )
        assert again == expected
        one = cluster_pair(1, dataset, specs, root, args.batch_size, expected, args.repeat)
        two = cluster_pair(2, dataset, specs, root, args.batch_size, expected, args.repeat)
    n = len(specs)
    return {
        "date": date.today().isoformat(),
        "machine": f"{platform.platform()}, {os.cpu_count()} CPUs (shared with other work: seconds are provisional)",
        "ray": ray.__version__,
        "torch": torch.__version__,
        "models": list(MODELS),
        "images": len(dataset.images),
        "photo_size_px": list(sizes),
        "torch_threads_per_model": args.threads,
        "warm_runs": f"fastest of {args.repeat}",
        "serial_s": {"cold_s": round(serial_cold, 2), "warm_s": round(serial_warm, 2)},
        "cluster_1_worker_s": one,
        "cluster_2_workers_s": two,
        "overhead_per_model_s": {
            "cold": round((one["cold_s"] - serial_cold) / n, 2),
            "warm": round((one["warm_s"] - serial_warm) / n, 2),
        },
        "two_workers_over_serial": {
            "cold": round(two["cold_s"] / serial_cold, 2),
            "warm": round(two["warm_s"] / serial_warm, 2),
        },
        "runs_identical_to_serial": True,
    }


def print_report(report: dict) -> None:
    sizes = report["photo_size_px"]
    print(f"{len(report['models'])} models x {report['images']} photos ({sizes[0]}-{sizes[1]} px), Ray {report['ray']}")
    settings = {"serial": "serial_s", "1 worker": "cluster_1_worker_s", "2 workers": "cluster_2_workers_s"}
    for label, key in settings.items():
        print(f"{label:10} cold {report[key]['cold_s']:7.2f} s   warm {report[key]['warm_s']:7.2f} s")
    overhead, ratio = report["overhead_per_model_s"], report["two_workers_over_serial"]
    print(f"Ray's overhead per model: cold {overhead['cold']} s, warm {overhead['warm']} s (goal < 1 s)")
    print(f"2 workers / serial: cold {ratio['cold']}x, warm {ratio['warm']}x (goal <= 0.7x); every run byte-identical")


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    report = measure(args)
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(report, indent=2))
    print_report(report)
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
