"""What CLIP models are asked: ImageNet-1K class names, prompt templates, and the 1 vs 20 candidate sets."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from engine.config import paper_dir
from engine.errors import UserError

PAPER_TEMPLATES = ("A photo of {}.",)  # the paper's single prompt
CLASSNAME_SETS = ("wordnet", "openai")
TEMPLATE_SETS = ("paper", "openai80")
CANDIDATES_FILE = "candidates_1vs20_reconstructed.json"  # in the published-numbers folder


@cache
def imagenet_classnames(kind: str = "wordnet") -> tuple[str, ...]:
    """The 1,000 ImageNet class names in index order.

    Args:
        kind: "wordnet", the full WordNet lemmas ("ice bear, polar bear, Ursus Maritimus, Thalarctos maritimus"),
            shipped with timm, as the paper's default; or "openai", open_clip's curated short names ("polar bear").
    """
    if kind == "wordnet":
        from timm.data import ImageNetInfo

        return tuple(ImageNetInfo().label_descriptions())
    if kind == "openai":
        import open_clip

        return tuple(open_clip.IMAGENET_CLASSNAMES)
    raise UserError(f"unknown class names {kind!r}; choose from {CLASSNAME_SETS}")


def answer_names(kind: str = "wordnet") -> tuple[str, ...]:
    """The names vision-language models answer with ("A ice bear"): a class's first WordNet lemma, not the whole
    synonym list CLIP's prompts carry ("ice bear, polar bear, Ursus Maritimus, ..."), which no one would say; or
    open_clip's short names ("polar bear") with kind "openai"."""
    names = imagenet_classnames(kind)
    return tuple(n.split(",")[0].strip() for n in names) if kind == "wordnet" else names


def templates(name: str = "paper") -> tuple[str, ...]:
    """Prompt templates as format strings: "paper" (one prompt) or "openai80" (open_clip's 80 OpenAI prompts)."""
    if name == "paper":
        return PAPER_TEMPLATES
    if name == "openai80":
        import open_clip

        return tuple(template("{}") for template in open_clip.OPENAI_IMAGENET_TEMPLATES)
    raise UserError(f"unknown templates {name!r}; choose from {TEMPLATE_SETS}")


def default_candidates_path() -> Path:
    return paper_dir() / CANDIDATES_FILE


def load_candidates(path: Path | None = None) -> dict[int, tuple[int, ...]]:
    """Per class (ImageNet index), the ImageNet indices competing in the 1 vs 20 setup."""
    path = Path(path) if path else default_candidates_path()
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise UserError(f"cannot read the 1 vs 20 candidate file {path} ({error})") from error
    try:
        raw = raw.get("candidates", raw)  # files from `counteranimal candidates build` carry provenance under "meta"
        candidates = {int(class_id): tuple(int(i) for i in ids) for class_id, ids in raw.items()}
    except (AttributeError, TypeError, ValueError) as error:  # a list, a non-numeric id: not a candidate file
        raise UserError(f"{path} is not a 1 vs 20 candidate file (class id -> ImageNet ids): {error}") from error
    for class_id, ids in candidates.items():
        if class_id not in ids or not all(0 <= i < 1000 for i in ids):
            raise UserError(f"{path}: the candidates of class {class_id} must be ImageNet indices including {class_id}")
    return candidates
