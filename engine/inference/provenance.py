"""What a run is: its identity (everything that determines the predictions, hashed into the run id) and its run.json
(the identity and everything else worth knowing about how it was made). Used by the evaluator, here or on a Ray node."""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

import torch

from engine.dataset.reader import Dataset
from engine.files import digest
from engine.inference.devices import precision
from engine.inference.labels import answer_names, default_candidates_path, imagenet_classnames, templates
from engine.models import LoadedModel
from engine.runs.format import ONE_VS_20, SCHEMA_VERSION, RunManifest

if TYPE_CHECKING:
    from engine.inference.evaluator import EvalOptions


@cache
def packages() -> dict[str, str]:
    found = {}
    for name in ("torch", "torchvision", "open_clip_torch", "timm", "transformers", "pillow", "counteranimal-explorer"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def run_identity(model: LoadedModel, dataset: Dataset, options: EvalOptions, candidates_digest: str | None) -> dict:
    """Everything that determines the predictions, and nothing else (not where a weight file lies); its hash is the
    run id."""
    clip, lvlm, recipe = model.family == "CLIP", model.family == "LVLM", model.recipe
    identity = {
        "schema": SCHEMA_VERSION,
        "model": model.spec.without_file(),
        "weights": model.checkpoint.get("sha256") or model.checkpoint["source"],
        "config": model.checkpoint.get("config_sha256"),  # an open_clip hub folder's own architecture file
        "dataset": dataset.fingerprint,
        "classnames": digest(answer_names(options.classnames) if lvlm else imagenet_classnames(options.classnames))
        if clip or lvlm
        else None,
        "templates": digest(templates(options.templates)) if clip else None,
        "candidates": candidates_digest,
        "preprocess": [recipe.key, recipe.convert_first, recipe.mean, recipe.std] if recipe else "model's processor",
        "precision": precision(options.device),
    }
    if lvlm:  # only for these, so that every other run keeps its id
        identity["lvlm"] = lvlm_labels(options)
    return identity


def lvlm_labels(options: EvalOptions) -> dict:
    return {"question": options.question, "answer": options.answer, "score": options.answer_score}


def run_manifest(
    rid: str,
    identity: dict,
    model: LoadedModel,
    dataset: Dataset,
    unreadable: dict[str, str],
    options: EvalOptions,
    started: str,
    seconds: dict[str, float],
    evaluated: int,
) -> RunManifest:
    """run.json: the identity and everything else worth knowing about how the run was made."""
    skipped = [{"image_id": i, "reason": "empty file"} for i in dataset.empty_files]
    skipped += [{"image_id": i, "reason": reason} for i, reason in unreadable.items()]
    wants_20 = ONE_VS_20 in options.setups
    lvlm = model.family == "LVLM"
    recipe = model.recipe
    return RunManifest(
        run_id=rid,
        identity=identity,
        model={"spec": model.spec.text, "family": model.family, "checkpoint": model.checkpoint},
        dataset=dataset.provenance(),
        labels={
            "classnames": options.classnames,
            "templates": list(templates(options.templates)) if model.family == "CLIP" else None,
            "candidates": str(options.candidates or default_candidates_path()) if wants_20 else None,
        }
        | ({"lvlm": lvlm_labels(options)} if lvlm else {}),
        # Vision-language models answer among each class's 20 candidates only (the paper's protocol).
        setups=[ONE_VS_20] if lvlm else list(options.setups),
        preprocess={"steps": recipe.key, "mean": recipe.mean, "std": recipe.std} if recipe else {"steps": "processor"},
        precision=precision(options.device),
        device=device_name(options.device),
        packages=packages(),
        python=platform.python_version(),
        started_at=started,
        finished_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
        seconds=seconds,
        images={"listed": len(dataset.images) + len(dataset.empty_files), "evaluated": evaluated},
        skipped_files=skipped,
    )


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({platform.processor() or 'cpu'})"
