"""Vision-language models as the engine scores them (the paper's LVLM protocol): a conversation whose user turn holds
the photo and a question and whose assistant turn holds a candidate answer; the photo and question (the prefix) are
encoded once, and every candidate answer continues from the prefix's KV cache. One adapter per kind of model:
transformers' image-text-to-text models (`load_transformers.py`) and MiniGPT-4 (`load_minigpt4.py`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch
from PIL import Image

from engine.models.recipes import Recipe
from engine.runs.format import LVLM_ANSWER, LVLM_QUESTION

QUESTION = LVLM_QUESTION  # the paper's question (the run format owns it: the dashboard names runs' protocols too)
ANSWER = LVLM_ANSWER  # the paper's answer, e.g. "A ice bear"


@dataclass(frozen=True)
class Conversation:
    """One question and answer as the model's prompt format writes it."""

    prefix: str  # everything before the answer: system text, user turn with the image placeholder, assistant cue
    full: str  # prefix + answer + whatever the template closes the assistant turn with
    answer: tuple[int, int]  # [start, end) of the answer's characters in `full`; only these tokens are scored


@dataclass
class Prefix:
    """A batch of encoded prefixes (same length): what every candidate answer continues from."""

    cache: object  # the language model's KV cache (a transformers Cache), batch B
    last_logits: torch.Tensor  # (B, V) float32: the logits after the prefix's last token (they score answer token 1)
    mask: torch.Tensor  # (B, P) attention mask of the prefix, on the device


class VisionLanguageModel(ABC):
    """What the LVLM scorer needs from a model. Photos come either as normalized pixels from the image cache (when
    `recipe` is set: the model's preprocessing is a fixed resize/crop/normalize) or as decoded PIL images."""

    tokenizer: object  # a fast tokenizer (offset mappings), the one the language model was trained with
    recipe: Recipe | None  # the image cache recipe, or None when the model preprocesses each photo its own way
    device: torch.device
    # Whether `continue_from` takes all of a photo's answers packed in one row (a 4D attention mask keeping each answer
    # to the prompt and itself, and explicit positions): no copy of the prompt's cache per answer. Models with other
    # position schemes (Qwen2-VL's 3D rotary positions) leave it False and get the cache repeated per answer.
    packs_answers: bool = False
    # Whether answers are tokenized apart from the prompt (as MiniGPT-4's training tokenized its targets) rather than
    # with it as one text (as chat templates are).
    tokenizes_answers_apart: bool = False

    @abstractmethod
    def conversation(self, question: str, answer: str) -> Conversation:
        """The prompt text around one answer, as the model's chat format writes it."""

    @abstractmethod
    def encode_prefix(self, images: torch.Tensor | list[Image.Image], prefix: str) -> Prefix:
        """Run the language model over the prefix of every photo in the batch (`images`: (B, 3, H, W) normalized
        float pixels on the device when `recipe` is set, else B PIL images); `prefix` is `conversation(...).prefix`
        with its image placeholder, the same for the whole batch."""

    @abstractmethod
    def continue_from(
        self, ids: torch.Tensor, mask: torch.Tensor, cache: object, positions: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(N, L, V) float32 logits of answer tokens `ids` (N, L) continued from `cache` (batch N). Repeated cache:
        `mask` (N, P + L) covers the prefix and the answer tokens (0 for padding), `positions` is None. Packed
        answers: `mask` is (N, 1, L, P + L), additive (0 = attend) in the network's dtype, and `positions` (N, L)."""
