"""The Evaluate page's pre-run check on a checkpoint of real size: names and shapes only, against a full load.

Before a job is queued, the weight file is checked against its architecture. The engine builds the architecture on
the meta device and reads only the file's tensor names and shapes (safetensors' header; a memory-mapped
`torch.load`). The baseline is the obvious check: build the model, load every tensor, compare. Both run on random
weights of open_clip's ViT-L-14 (428 M parameters, 1.7 GB in fp32: the size researchers upload), saved both as
safetensors and as a PyTorch file. Each check runs in a fresh process, as the page's check does, so imports and the
page cache are part of the time (the file is read once beforehand, so both find it in the page cache).

    .venv/bin/python bench/weights_check.py [--arch ViT-L-14] [--repeat 3]

Figures go to bench/results/weights_check.json and a table to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

OUTPUT = Path(__file__).resolve().parent / "results" / "weights_check.json"
REPO = Path(__file__).resolve().parents[1]

# The two checks, each run as `python -c` in a fresh process: the engine's, and the obvious one.
PEAK = "\nimport resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"  # KiB on Linux
ENGINE_CHECK = "from engine.models import check_weights; check_weights({spec!r})" + PEAK
FULL_CHECK = (
    """
import torch
from engine.models.checkpoints import fit_report, read_state_dict
from engine.models import load_model, parse_spec
model = load_model({spec!r}, torch.device("cpu"), random_weights=True).network
assert not fit_report(model, read_state_dict(parse_spec({spec!r}).file))
"""
    + PEAK
)


WRITE = """
import open_clip, torch
from safetensors.torch import save_file
state = open_clip.create_model({arch!r}).state_dict()
save_file({{k: v.contiguous() for k, v in state.items()}}, {safetensors!r})
torch.save(state, {pt!r})
"""


def write_weights(arch: str, folder: Path) -> list[Path]:
    """Random weights as safetensors and as a PyTorch file, written by another process: Linux carries a process's
    peak memory over to the processes it starts, so this one must stay small for the children's peaks to count."""
    paths = [folder / f"{arch}.safetensors", folder / f"{arch}.pt"]
    code = WRITE.format(arch=arch, safetensors=str(paths[0]), pt=str(paths[1]))
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, capture_output=True)
    return paths


def timed(code: str, repeat: int) -> tuple[float, float]:
    """Best wall time (s) of `repeat` fresh processes running `code`, and their peak memory (GB)."""
    best, peak = float("inf"), 0.0
    for _ in range(repeat):
        clock = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", code], check=True, cwd=REPO, capture_output=True, text=True,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )  # fmt: skip
        best = min(best, time.perf_counter() - clock)
        peak = max(peak, int(done.stdout.split()[-1]) * 1024 / 1e9)
    return best, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="ViT-L-14")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for path in write_weights(args.arch, Path(folder)):
            subprocess.run(["cat", str(path)], check=True, stdout=subprocess.DEVNULL)  # page cache, for both alike
            spec = f"open_clip:{args.arch}@{path}"
            engine, engine_gb = timed(ENGINE_CHECK.format(spec=spec), args.repeat)
            full, full_gb = timed(FULL_CHECK.format(spec=spec), args.repeat)
            rows.append(
                {
                    "file": path.suffix,
                    "gigabytes": round(path.stat().st_size / 1e9, 2),
                    "engine_s": round(engine, 2),
                    "full_load_s": round(full, 2),
                    "speedup": round(full / engine, 1),
                    "engine_peak_gb": round(engine_gb, 2),
                    "full_load_peak_gb": round(full_gb, 2),
                }
            )
            print(f"{path.name:22} {rows[-1]['gigabytes']:.2f} GB  check {engine:5.2f} s, {engine_gb:.2f} GB peak  "
                  f"full load {full:5.2f} s, {full_gb:.2f} GB peak  {full / engine:.1f}x faster")  # fmt: skip
    report = {
        "date": date.today().isoformat(),
        "machine": f"{platform.platform()} ({platform.machine()}), {os.cpu_count()} CPUs",
        "arch": args.arch,
        "repeat": args.repeat,
        "note": "wall time of a fresh process per check (best of `repeat`, including importing torch); peak RSS",
        "results": rows,
    }
    OUTPUT.parent.mkdir(exist_ok=True)
    OUTPUT.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
