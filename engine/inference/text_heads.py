"""CLIP zero-shot heads: the class-mean text embeddings of the 1,000 ImageNet names, computed once per model, class
names and templates, and kept on disk."""

from __future__ import annotations

from pathlib import Path

import torch

from engine.files import digest
from engine.models import LoadedModel


def text_head(
    model: LoadedModel, classnames: tuple[str, ...], templates: tuple[str, ...], cache: Path, progress: bool = True
) -> torch.Tensor:
    """(D, 1000) normalized class embeddings (open_clip's `build_zero_shot_classifier`), cached by the model's
    weights, the class names and the templates."""
    import open_clip

    identity = [model.spec.text, model.checkpoint, list(classnames), list(templates)]
    path = cache / "text" / f"{digest(identity)}.pt"
    device = next(model.network.parameters()).device
    if path.is_file():
        return torch.load(path, map_location=device, weights_only=True)
    with torch.no_grad():  # fp32 even on CUDA: built once per model, and its precision bounds every score
        tokenizer = open_clip.get_tokenizer(model.text_config)  # loading the vocabulary takes a while: only here
        head = open_clip.build_zero_shot_classifier(
            model.network, tokenizer, classnames, templates, num_classes_per_batch=25, device=device,
            use_tqdm=progress,
        )  # fmt: skip
    head = head.float()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    torch.save(head.cpu(), partial)
    partial.replace(path)
    return head
