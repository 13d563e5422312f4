"""`data check` and `download`: the dataset on disk."""

from __future__ import annotations

import argparse
import os
from collections import Counter
from pathlib import Path


def data_check(args: argparse.Namespace) -> int:
    from engine.dataset.reader import load_dataset, paper_classes
    from engine.inference.image_cache import find_unreadable

    dataset = load_dataset(Path(args.dir))
    unreadable = find_unreadable(dataset, args.workers)
    paper = paper_classes()
    readable = Counter((i.class_id, i.split) for i in dataset.images if i.image_id not in unreadable)
    print(
        f"{dataset.root} ({dataset.name}, {dataset.layout} layout): {len(dataset.classes)} classes "
        f"({len(paper)} in the paper)"
    )
    for folder in dataset.classes:
        row = paper.get(folder.class_id, {})  # a curated set may hold classes the paper has not
        counts = {split: readable[folder.class_id, split] for split in ("common", "counter")}
        backgrounds = f"{folder.common_background} -> {folder.counter_background}"
        expected = f"{row['common_background']} -> {row['counter_background']}" if row else backgrounds
        note = "" if backgrounds == expected else f"  (paper: {expected})"
        print(
            f"{folder.folder:40} {backgrounds:22} common {counts['common']:4}/{row.get('n_common', '-'):>4}  "
            f"counter {counts['counter']:4}/{row.get('n_counter', '-'):>4}{note}"
        )
    skipped = {i: "empty file" for i in dataset.empty_files} | unreadable
    for image_id, reason in sorted(skipped.items()):
        print(f"skipped {image_id}: {reason}")
    print(f"{len(dataset.images) - len(unreadable)} readable images, {len(skipped)} skipped")
    return 0


def download(args: argparse.Namespace) -> int:
    from engine.config import data_dir
    from engine.dataset.download import download_dataset

    folder = download_dataset(Path(args.to) if args.to else data_dir(), url=args.url, sha256=args.sha256)
    print(f"dataset ready at {folder}; check it with `counteranimal data check {folder}`")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    data = commands.add_parser("data", help="dataset tools").add_subparsers(dest="data_command", required=True)
    p = data.add_parser("check", help="per class: backgrounds, counts vs the paper's, skipped files")
    p.add_argument("dir")
    p.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1))
    p.set_defaults(run=data_check)

    p = commands.add_parser("download", help="download, verify and extract the dataset archive")
    p.add_argument("--to", help="folder to extract into (default $COUNTERANIMAL_DATA, else ./data)")
    p.add_argument("--url", help="archive or page URL (default $COUNTERANIMAL_DATA_URL, else the project page)")
    p.add_argument("--sha256", help="expected SHA-256 of the archive")
    p.set_defaults(run=download)
