"""The model zoo (`engine/zoo/zoo.toml`) as typed records, read once per process."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ZOO_PATH = Path(__file__).with_name("zoo.toml")

# The model sources the engine can load: a model id's prefix before the first ":" (the spec grammar is in
# `engine.zoo.specs`; `engine.models.LOADERS` has one loader function for each). hf and minigpt4 are
# vision-language models, scored by the language-model loss of each candidate answer (1 vs 20 only). python is a
# network built by a function in the user's own code (terminal only: the dashboard never runs user code).
SOURCES = ("open_clip", "torchvision", "timm", "hf", "minigpt4", "python")
VLM_SOURCES = ("hf", "minigpt4")


@dataclass(frozen=True)
class Pretrain:
    """Pre-training data of a model."""

    name: str
    size: str  # human-readable, e.g. "2B" or "ImageNet-1k"
    pairs_m: float | None  # distinct image-text pairs trained on, in millions; None for supervised ImageNet data
    pairs_source: str  # where the pairs_m figure comes from
    high_quality: bool  # curated data (DataComp, DFN)


@dataclass(frozen=True)
class ZooModel:
    """One model of the paper."""

    id: str
    name: str
    family: str
    backbone: str
    pretrain: Pretrain | None
    paper_checkpoint: str
    role: str  # "main" or "alt_checkpoint"
    spec: str = ""  # the loader spec when it differs from the id (LVLMs: lvlm:NAME is evaluated as hf:REPO)

    @property
    def kind(self) -> str:
        return self.id.split(":", 1)[0]

    @property
    def loader(self) -> str:
        """The loader spec the engine evaluates this model with; empty when the engine cannot load it."""
        return self.spec or (self.id if self.kind in SOURCES else "")


@cache
def load_zoo(path: Path = ZOO_PATH) -> tuple[ZooModel, ...]:
    """Read the zoo file into records, in file order (once per file: every spec lookup consults it)."""
    with path.open("rb") as f:
        raw = tomllib.load(f)
    pretrain = {name: _pretrain(name, entry) for name, entry in raw["pretrain"].items()}
    models = [_model(entry, pretrain) for entry in raw["model"]]
    duplicates = {m.id for m in models if sum(n.id == m.id for n in models) > 1}
    if duplicates:
        raise ValueError(f"{path}: duplicate model ids {sorted(duplicates)}")
    return tuple(models)


def _pretrain(name: str, entry: dict) -> Pretrain:
    pairs_m, source = entry.get("pairs_m"), entry.get("pairs_source", "")
    if pairs_m is not None and not source.strip():
        raise ValueError(f"pretrain {name!r}: pairs_m = {pairs_m:g} needs a pairs_source saying where it comes from")
    return Pretrain(
        name=name,
        size=entry["size"],
        pairs_m=pairs_m,
        pairs_source=source,
        high_quality=entry.get("high_quality", False),
    )


def _model(entry: dict, pretrain: dict[str, Pretrain]) -> ZooModel:
    data = entry.get("pretrain")
    if data is not None and data not in pretrain:
        raise ValueError(f"model {entry['id']}: unknown pretrain {data!r}; add it to the [pretrain] table")
    return ZooModel(
        id=entry["id"],
        name=entry["name"],
        family=entry["family"],
        backbone=entry.get("backbone", ""),
        pretrain=pretrain[data] if data else None,
        paper_checkpoint=entry.get("paper_checkpoint", ""),
        role=entry.get("role", "main"),
        spec=entry.get("spec", ""),
    )
