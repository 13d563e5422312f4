"""transformers vision-language models (`hf:REPO_ID`, `hf:DIR`): any image-text-to-text model with a chat template
(LLaVA-1.5, LLaVA-NeXT, Qwen2-VL, PaliGemma, Idefics), loaded with `AutoProcessor` + `AutoModelForImageTextToText`
and scored as the paper scores LVLMs (`engine.models.vlm`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors import SafetensorError

from engine.files import digest, sha256_file
from engine.models.checkpoints import CheckpointError
from engine.models.loaded import RANDOM_INIT, LoadedModel, fetch_error
from engine.models.recipes import Recipe
from engine.models.vlm import Conversation, Prefix, VisionLanguageModel
from engine.zoo.specs import ModelError, Spec

WEIGHT_PATTERNS = ("*.safetensors", "*.bin")
# The files besides the weights that change answers: config, processor and tokenizer files, chat templates.
SETUP_SUFFIXES = (".json", ".jinja", ".txt", ".model", ".tiktoken")
_PROBE_SIZES = ((640, 480), (300, 500))
# Model types whose language model takes a 4D attention mask and 1D positions (Llama-style): checked against the
# one-forward-per-answer reference in tests/test_lvlm.py. Others get the prompt's cache repeated per answer.
PACKING_MODEL_TYPES = ("llava",)  # landscape and portrait: a fixed-size processor gives both one size


class ProcessorSteps:
    """The resize and crop of a transformers image processor as a recipe step: PIL image -> PIL image of the model's
    input size, pixel for pixel what the processor feeds the model before rescaling and normalizing (those happen on
    the device). A class, not a closure, so the image cache's decoding processes can receive it."""

    def __init__(self, image_processor: object) -> None:
        self.image_processor = image_processor

    def __call__(self, image: Image.Image) -> Image.Image:
        out = self.image_processor(image, do_rescale=False, do_normalize=False, return_tensors="np")
        pixels = np.asarray(out["pixel_values"][0])  # (3, H, W), uint8 values
        return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8).transpose(1, 2, 0))


def processor_recipe(image_processor: object) -> Recipe | None:
    """A recipe when the processor turns every photo into one fixed-size image (LLaVA-1.5, PaliGemma); None when it
    tiles or resizes per photo (LLaVA-NeXT, Qwen2-VL): those photos are decoded and processed batch by batch."""
    sizes, extra = set(), set()
    for width, height in _PROBE_SIZES:
        try:
            out = image_processor(Image.new("RGB", (width, height)), do_rescale=False, do_normalize=False)
        except (TypeError, ValueError):  # a processor without these switches
            return None
        pixels = np.asarray(out["pixel_values"])
        sizes.add(pixels.shape)
        extra |= set(out) - {"pixel_values"}
    if len(sizes) != 1 or extra or len(next(iter(sizes))) != 4 or next(iter(sizes))[:2] != (1, 3):
        return None
    config = image_processor.to_dict()
    mean = tuple(float(v) for v in config.get("image_mean") or (0.0, 0.0, 0.0))
    std = tuple(float(v) for v in config.get("image_std") or (1.0, 1.0, 1.0))
    if not config.get("do_normalize", True):
        mean, std = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
    factor = float(config.get("rescale_factor", 1 / 255)) if config.get("do_rescale", True) else 1.0
    if abs(factor - 1 / 255) > 1e-12:
        return None  # the device normalization divides by 255; anything else is processed batch by batch
    described = {k: v for k, v in config.items() if k not in ("image_mean", "image_std", "processor_class")}
    key = f"transformers {type(image_processor).__name__} {json.dumps(described, sort_keys=True, default=str)}"
    return Recipe(steps=ProcessorSteps(image_processor), key=key, mean=mean, std=std, convert_first=True)


class TransformersVLM(VisionLanguageModel):
    """An image-text-to-text model and its processor, prompted through the processor's chat template."""

    def __init__(self, network: torch.nn.Module, processor: object, recipe: Recipe | None) -> None:
        self.network, self.processor, self.recipe = network, processor, recipe
        self.tokenizer = processor.tokenizer
        self.packs_answers = network.config.model_type in PACKING_MODEL_TYPES
        self._text_inputs: dict[str, dict[str, torch.Tensor]] = {}  # prefix -> its tokens with the image expanded

    @property
    def device(self) -> torch.device:
        return next(self.network.parameters()).device

    def conversation(self, question: str, answer: str) -> Conversation:
        user = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
        reply = [{"role": "assistant", "content": [{"type": "text", "text": answer}]}]
        prefix = self.processor.apply_chat_template(user, add_generation_prompt=True)
        full = self.processor.apply_chat_template(user + reply)
        start = full.find(answer, len(prefix.rstrip()))
        if not full.startswith(prefix.rstrip()) or start < 0:
            raise ModelError(
                "The model's chat template does not write the answer after the prompt it ends the user turn with, so "
                f"answers cannot be scored from a shared prompt (prompt {prefix[-60:]!r}, conversation {full[-80:]!r})."
            )
        # Some templates end the generation cue with a space the answer turn writes differently ("ASSISTANT:" vs
        # "ASSISTANT: A"): the prefix is what both share.
        shared = prefix if full.startswith(prefix) else prefix.rstrip()
        return Conversation(prefix=shared, full=full, answer=(start, start + len(answer)))

    def _inputs(self, images: torch.Tensor | list[Image.Image], prefix: str) -> dict[str, torch.Tensor]:
        if isinstance(images, list):  # the processor sizes each photo itself
            inputs = self.processor(images=images, text=[prefix] * len(images), return_tensors="pt")
            return {k: v.to(self.device) for k, v in inputs.items()}
        if prefix not in self._text_inputs:  # the tokens, with the image placeholder expanded, are the same per photo
            height, width = images.shape[-2:]
            probe = self.processor(images=[Image.new("RGB", (width, height))], text=[prefix], return_tensors="pt")
            self._text_inputs[prefix] = {k: v.to(self.device) for k, v in probe.items() if k != "pixel_values"}
        batch = len(images)
        inputs = {k: v.expand(batch, *v.shape[1:]) for k, v in self._text_inputs[prefix].items()}
        return inputs | {"pixel_values": images.to(self.network.dtype)}

    @torch.no_grad()
    def encode_prefix(self, images: torch.Tensor | list[Image.Image], prefix: str) -> Prefix:
        inputs = self._inputs(images, prefix)
        out = self.network(**inputs, use_cache=True, logits_to_keep=1)
        return Prefix(cache=out.cache, last_logits=out.logits[:, -1].float(), mask=inputs["attention_mask"])

    @torch.no_grad()
    def continue_from(
        self, ids: torch.Tensor, mask: torch.Tensor, cache: object, positions: torch.Tensor | None = None
    ) -> torch.Tensor:
        out = self.network(input_ids=ids, attention_mask=mask, position_ids=positions, cache=cache, use_cache=True)
        return out.logits.float()


def _source(spec: Spec) -> str:
    folder = spec.folder
    if folder is None:
        return spec.name
    if not folder.is_dir():
        raise ModelError(f"{folder.resolve()} is not a folder; give a transformers model folder (save_pretrained).")
    if not (folder / "config.json").is_file():
        raise ModelError(
            f"{folder.resolve()} has no config.json: it is not a transformers model folder. Save the model and its "
            "processor there with `model.save_pretrained(DIR)` and `processor.save_pretrained(DIR)`."
        )
    return str(folder)


def _processor_and_config(spec: Spec, source: str) -> tuple[object, object]:
    from transformers import AutoConfig, AutoProcessor

    try:
        config = AutoConfig.from_pretrained(source)
        processor = AutoProcessor.from_pretrained(source)
    except OSError as error:  # not on the hub, not in the cache offline, or files missing from a folder
        if spec.folder is not None:
            raise ModelError(f"{source} is missing processor files ({str(error).splitlines()[0][:200]}).") from error
        raise fetch_error(spec, error) from error
    except (ValueError, KeyError) as error:  # a config transformers does not know
        raise ModelError(f"{spec.text} is not a model transformers can build: {str(error)[:300]}") from error
    if not hasattr(processor, "image_processor") or not hasattr(processor, "tokenizer"):
        raise ModelError(
            f"{spec.text}'s processor has no image processor and tokenizer: is it a vision-language model?"
        )
    if not getattr(processor, "chat_template", None):
        raise ModelError(
            f"{spec.text}'s processor has no chat template, so the question cannot be put the way the model was "
            "trained to read it. Save a processor with its chat_template (processor.save_pretrained)."
        )
    return processor, config


def weight_files(folder: Path) -> list[Path]:
    return sorted({p for pattern in WEIGHT_PATTERNS for p in folder.glob(pattern)})


def _identity(spec: Spec, source: str) -> dict:
    """The model's identity: the weights' hashes, and apart from them the hashes of everything else that shapes the
    answers (config, processor, tokenizer, chat template). A folder's files are hashed; a hub snapshot's are named
    by their hashes (blobs/<sha256>, or the git hash of small files), so nothing is read."""
    folder = Path(source) if spec.folder is not None else _hub_snapshot(source)
    content = sha256_file if spec.folder is not None else (lambda path: path.resolve().name)
    weights = {p.name: content(p) for p in weight_files(folder)}
    setup = {p.name: content(p) for p in sorted(folder.iterdir()) if p.is_file() and p.suffix in SETUP_SUFFIXES}
    return {"source": source, "sha256": digest(weights), "files": weights, "config_sha256": digest(setup)}


def _hub_snapshot(repo: str) -> Path:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo, "config.json")
    if not isinstance(found, str):
        raise ModelError(f"{repo} is not in the Hugging Face cache after loading; set HF_HOME to a writable folder.")
    return Path(found).parent


def _build(config: object, source: str, random_weights: bool, dtype: torch.dtype) -> torch.nn.Module:
    from transformers import AutoModelForImageTextToText

    try:
        if random_weights:
            return AutoModelForImageTextToText.from_config(config, dtype=dtype)
        network, info = AutoModelForImageTextToText.from_pretrained(source, dtype=dtype, output_loading_info=True)
    except ValueError as error:  # "Unrecognized configuration class ... for AutoModelForImageTextToText"
        raise ModelError(
            f"{source} is not an image-text-to-text model transformers knows: {str(error)[:300]}"
        ) from error
    except (OSError, RuntimeError, SafetensorError) as error:  # unreadable or truncated weights, other shapes
        raise CheckpointError(
            f"The weights in {source} cannot be loaded: {str(error).splitlines()[0][:300]}"
        ) from error
    problems = {k: sorted(v) for k, v in info.items() if k in ("missing_keys", "mismatched_keys") and v}
    if problems:
        listed = "; ".join(f"{len(v)} {k.replace('_', ' ')}: {', '.join(map(str, v[:4]))}" for k, v in problems.items())
        raise CheckpointError(f"The weights in {source} do not fit the model its config.json describes ({listed}).")
    return network


def load_transformers(spec: Spec, random_weights: bool, dtype: torch.dtype = torch.float32) -> LoadedModel:
    source = _source(spec)
    processor, config = _processor_and_config(spec, source)
    if spec.folder is not None and not random_weights and not weight_files(Path(source)):
        raise CheckpointError(f"No weight file (*.safetensors, *.bin) in {Path(source).resolve()}.")
    network = _build(config, source, random_weights, dtype)
    checkpoint = RANDOM_INIT if random_weights else _identity(spec, source)
    recipe = processor_recipe(processor.image_processor)
    vlm = TransformersVLM(network, processor, recipe)
    return LoadedModel(spec, "LVLM", network, recipe, checkpoint, vlm=vlm)
