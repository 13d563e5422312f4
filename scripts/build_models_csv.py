"""Write `results/paper/models.csv` from `engine/zoo/zoo.toml`, with parameter counts measured by building every
architecture on the meta device through open_clip / torchvision / timm (seconds, no weights). Re-run after editing
the zoo:

    python scripts/build_models_csv.py
"""

from __future__ import annotations

import csv
from pathlib import Path

from engine.models.params import count_parameters
from engine.zoo.catalog import ZooModel, load_zoo

OUT = Path(__file__).resolve().parents[1] / "results" / "paper" / "models.csv"
COLUMNS = [
    "model_id",
    "name",
    "family",
    "role",
    "backbone",
    "params_m",
    "params_total_m",
    "pretrain_data",
    "pretrain_size",
    "pretrain_pairs_m",
    "pretrain_pairs_source",
    "high_quality_data",
    "paper_checkpoint",
    "loader",
]


def millions(n: int) -> str:
    return f"{n / 1e6:.2f}"


def model_row(model: ZooModel) -> dict[str, str]:
    # LVLM architectures come from their hub configs, which are not here offline: their counts stay empty.
    counts = count_parameters(model.loader) if model.loader and model.family != "LVLM" else None
    data = model.pretrain
    return {
        "model_id": model.id,
        "name": model.name,
        "family": model.family,
        "role": model.role,
        "backbone": model.backbone,
        "params_m": millions(counts.backbone) if counts else "",
        "params_total_m": millions(counts.total) if counts else "",
        "pretrain_data": data.name if data else "",
        "pretrain_size": data.size if data else "",
        "pretrain_pairs_m": "" if data is None or data.pairs_m is None else f"{data.pairs_m:g}",
        "pretrain_pairs_source": data.pairs_source if data else "",
        "high_quality_data": str(bool(data and data.high_quality)).lower(),
        "paper_checkpoint": model.paper_checkpoint,
        "loader": model.loader,
    }


def main() -> None:
    rows = [model_row(m) for m in load_zoo()]
    with OUT.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} models to {OUT}")


if __name__ == "__main__":
    main()
