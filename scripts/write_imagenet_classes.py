"""Write `results/paper/imagenet_classes.csv`: the 1,000 ImageNet-1K class names (WordNet lemmas, as timm ships
them), so the dashboard can name predictions without importing timm or torch.

    python scripts/write_imagenet_classes.py
"""

from __future__ import annotations

import csv
from pathlib import Path

from engine.inference.labels import imagenet_classnames

OUT = Path(__file__).resolve().parents[1] / "results" / "paper" / "imagenet_classes.csv"


def main() -> None:
    with OUT.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["class_id", "label", "name"])
        for class_id, name in enumerate(imagenet_classnames("wordnet")):
            writer.writerow([class_id, name.split(",")[0].strip(), name])
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
