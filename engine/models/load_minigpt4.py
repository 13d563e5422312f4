"""MiniGPT-4 (Vicuna-7B) assembled from transformers parts (`minigpt4:DIR`): BLIP-2's EVA ViT-g and Q-Former, a Vicuna
`LlamaForCausalLM`, MiniGPT-4's `llama_proj`, its Vicuna v0 prompt and its eval preprocessing. LAVIS's BLIP-2 weight
files become the folder's `blip2/` with `engine.models.convert_lavis.convert_lavis_blip2`.

Everything is checked against github.com/Vision-CAIR/MiniGPT-4 (minigpt4/models/minigpt4.py, minigpt_base.py,
base_model.py, conversation/conversation.py, processors/blip_processors.py, eval_configs/minigpt4_eval.yaml).

The folder (`minigpt4:DIR`):

    DIR/blip2/             a transformers BLIP-2 folder: config.json + weights holding `vision_model.*` (EVA ViT-g,
                           its post_layernorm = LAVIS's `ln_vision`), `qformer.*` and `query_tokens`: a download of
                           Salesforce/blip2-flan-t5-xxl (only those tensors are read, so only config.json and the
                           shards holding them are needed), or `convert_lavis_blip2`'s output from LAVIS's files.
    DIR/vicuna/            Vicuna-7B v0 in transformers format (config.json, weights, tokenizer files).
    DIR/minigpt4_proj.pth  MiniGPT-4's released checkpoint (pretrained_minigpt4_7b.pth, also accepted under that name
                           or its misspelling prerained_minigpt4_7b.pth): {"model": {"llama_proj.weight", ".bias"}}.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from PIL import Image
from torchvision import transforms as T

from engine.files import sha256_file
from engine.models.checkpoints import CheckpointError, fit_report, read_state_dict
from engine.models.loaded import RANDOM_INIT, LoadedModel
from engine.models.recipes import Recipe
from engine.models.vlm import Conversation, Prefix, VisionLanguageModel
from engine.zoo.specs import ModelError, Spec

BLIP2_DIR, VICUNA_DIR = "blip2", "vicuna"
PROJECTION_NAMES = ("minigpt4_proj.pth", "pretrained_minigpt4_7b.pth", "prerained_minigpt4_7b.pth")
IMAGE_PLACEHOLDER = "<ImageHere>"
# CONV_VISION_Vicuna0 (minigpt4/conversation/conversation.py): SeparatorStyle.SINGLE, sep "###".
SYSTEM = (
    "Give the following image: <Img>ImageContent</Img>. "
    "You will be able to see the image once I provide it to you. Please answer my questions."
)
ROLES = ("Human: ", "Assistant: ")
SEP = "###"
USER_IMAGE = "<Img><ImageHere></Img>"  # Chat.upload_img's message; Chat.ask appends the question after a space
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)  # BlipImageBaseProcessor's defaults
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
LN_VISION_EPS = 1e-5  # LAVIS's ln_vision is a plain nn.LayerNorm; transformers' post_layernorm uses the ViT's 1e-6
_WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.pth", "*.pt")
SETUP_SUFFIXES = (".json", ".jinja", ".txt", ".model")  # configurations and tokenizer files
_BLIP2_PREFIXES = ("vision_model.", "qformer.", "query_tokens")


class MiniGPT4Network(torch.nn.Module):
    """All of MiniGPT-4's parts in one module, so `.eval().to(device)` moves everything."""

    def __init__(self, blip2_config: object, llama: torch.nn.Module, dtype: torch.dtype) -> None:
        from transformers import Blip2QFormerModel, Blip2VisionModel

        super().__init__()
        self.vision = Blip2VisionModel._from_config(blip2_config.vision_config, dtype=dtype)
        self.vision.post_layernorm.eps = LN_VISION_EPS
        # transformers keeps BLIP-2's Q-Former and query tokens in float32 (`_keep_in_fp32_modules`); so do we.
        self.qformer = Blip2QFormerModel._from_config(blip2_config.qformer_config, dtype=torch.float32)
        queries, width = blip2_config.num_query_tokens, blip2_config.qformer_config.hidden_size
        self.query_tokens = torch.nn.Parameter(torch.zeros(1, queries, width))
        self.llama = llama
        self.llama_proj = torch.nn.Linear(width, llama.config.hidden_size, dtype=dtype)

    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, queries, hidden) image embeddings for the language model: MiniGPT4.encode_img."""
        vision_dtype = self.vision.embeddings.patch_embedding.weight.dtype
        image_embeds = self.vision(pixel_values=pixels.to(vision_dtype)).last_hidden_state  # ln_vision applied
        queries = self.query_tokens.expand(image_embeds.shape[0], -1, -1)
        mask = torch.ones(image_embeds.shape[:-1], dtype=torch.long, device=image_embeds.device)
        out = self.qformer(query_embeds=queries, encoder_hidden_states=image_embeds, encoder_attention_mask=mask)
        return self.llama_proj(out.last_hidden_state.to(self.llama_proj.weight.dtype))


def minigpt4_recipe(image_size: int) -> Recipe:
    """Blip2ImageEvalProcessor: Resize((size, size), BICUBIC) of the RGB photo (no crop), CLIP mean and std."""
    resize = T.Resize((image_size, image_size), interpolation=T.InterpolationMode.BICUBIC)
    return Recipe(steps=resize, key=f"minigpt4 {resize!r}", mean=CLIP_MEAN, std=CLIP_STD, convert_first=True)


class MiniGPT4(VisionLanguageModel):
    """MiniGPT-4 as the LVLM scorer uses it: Chat.get_context_emb's prompt embedding and the Vicuna v0 template."""

    packs_answers = True  # Vicuna is a Llama: 4D masks and explicit positions
    tokenizes_answers_apart = True  # its training tokenizes `answer + "###"` on its own

    def __init__(self, network: MiniGPT4Network, tokenizer: object, recipe: Recipe) -> None:
        self.network, self.tokenizer, self.recipe = network, tokenizer, recipe

    @property
    def device(self) -> torch.device:
        return next(self.network.parameters()).device

    def conversation(self, question: str, answer: str) -> Conversation:
        """Conversation.get_prompt of CONV_VISION_Vicuna0 after upload_img, ask(question) and the assistant's turn:
        the prompt ends with the assistant role ("Assistant: "); an answer is followed by the separator "###"."""
        prefix = SYSTEM + SEP + ROLES[0] + f"{USER_IMAGE} {question}" + SEP + ROLES[1]
        return Conversation(prefix=prefix, full=prefix + answer + SEP, answer=(len(prefix), len(prefix) + len(answer)))

    def pixels(self, images: torch.Tensor | list[Image.Image]) -> torch.Tensor:
        """Normalized pixels on the device: the cache's tensor as is, or PIL photos through the recipe."""
        if isinstance(images, torch.Tensor):
            return images.to(self.device)
        arrays = [torch.tensor(self.recipe.apply(image)) for image in images]
        x = torch.stack(arrays).to(self.device).permute(0, 3, 1, 2).float().div_(255)
        mean = torch.tensor(self.recipe.mean, device=self.device).view(1, 3, 1, 1)
        std = torch.tensor(self.recipe.std, device=self.device).view(1, 3, 1, 1)
        return (x - mean) / std

    def embed_prefix(self, images: torch.Tensor | list[Image.Image], prefix: str) -> torch.Tensor:
        """(B, P, hidden) MiniGPTBase.get_context_emb: the text before and after `<ImageHere>` tokenized separately
        (a BOS token only before the first part) and embedded around the projected query embeddings."""
        parts = prefix.split(IMAGE_PLACEHOLDER)
        if len(parts) != 2:
            raise ModelError(f"MiniGPT-4's prompt needs exactly one {IMAGE_PLACEHOLDER}; got {len(parts) - 1}.")
        image_embeds = self.network.encode_images(self.pixels(images))
        embed = self.network.llama.get_input_embeddings()
        before, after = (
            self.tokenizer(part, return_tensors="pt", add_special_tokens=i == 0).input_ids.to(self.device)
            for i, part in enumerate(parts)
        )
        batch = image_embeds.shape[0]
        text = [embed(ids).expand(batch, -1, -1) for ids in (before, after)]
        return torch.cat([text[0], image_embeds.to(text[0].dtype), text[1]], dim=1)

    @torch.no_grad()
    def encode_prefix(self, images: torch.Tensor | list[Image.Image], prefix: str) -> Prefix:
        embeds = self.embed_prefix(images, prefix)
        mask = torch.ones(embeds.shape[:2], dtype=torch.long, device=embeds.device)
        out = self.network.llama(inputs_embeds=embeds, attention_mask=mask, use_cache=True, logits_to_keep=1)
        return Prefix(cache=out.cache, last_logits=out.logits[:, -1].float(), mask=mask)

    @torch.no_grad()
    def continue_from(
        self, ids: torch.Tensor, mask: torch.Tensor, cache: object, positions: torch.Tensor | None = None
    ) -> torch.Tensor:
        out = self.network.llama(
            input_ids=ids, attention_mask=mask, position_ids=positions, cache=cache, use_cache=True
        )
        return out.logits.float()


# ---------------------------------------------------------------------------------------------------------------
# Loading


def load_minigpt4(spec: Spec, random_weights: bool, dtype: torch.dtype = torch.float32) -> LoadedModel:
    """MiniGPT-4 from a `minigpt4:DIR` folder (layout in the module docstring).

    Args:
        random_weights: build the architecture from the folder's configs only; no weight file is read.
        dtype: the weights' dtype (the Q-Former stays float32, as in transformers' BLIP-2); losses are float32.
    Raises:
        ModelError: a missing folder or piece, named with what to put there.
        CheckpointError: a weight file that is unsafe, unreadable or does not fit.
    """
    folder = _check_folder(spec, need_weights=not random_weights)
    blip2_config = _blip2_config(folder / BLIP2_DIR)
    tokenizer = _tokenizer(folder / VICUNA_DIR)
    llama = _llama(folder / VICUNA_DIR, random_weights, dtype)
    network = MiniGPT4Network(blip2_config, llama, dtype)
    checkpoint = RANDOM_INIT
    if not random_weights:
        used = _load_blip2_weights(network, folder / BLIP2_DIR)
        projection = projection_file(folder)
        _load_projection(network, projection)
        checkpoint = {
            "source": str(folder),
            "sha256": _combined_hash(folder, used, projection),
            "config_sha256": _setup_hash(folder),
            "dtype": str(dtype),
        }
    network.eval()
    recipe = minigpt4_recipe(blip2_config.vision_config.image_size)
    return LoadedModel(spec, "LVLM", network, recipe, checkpoint, vlm=MiniGPT4(network, tokenizer, recipe))


_LAYOUT = (
    f"{BLIP2_DIR}/ (a transformers BLIP-2 folder, e.g. Salesforce/blip2-flan-t5-xxl, or convert_lavis_blip2's "
    f"output), {VICUNA_DIR}/ (Vicuna-7B v0 in transformers format with its tokenizer) and minigpt4_proj.pth "
    "(MiniGPT-4's pretrained_minigpt4_7b.pth)"
)


def _check_folder(spec: Spec, need_weights: bool) -> Path:
    folder = spec.folder
    if folder is None or not folder.is_dir():
        raise ModelError(f"{spec.text}: {spec.name} is not a folder. A MiniGPT-4 folder holds {_LAYOUT}.")
    missing = [f"{BLIP2_DIR}/config.json", f"{VICUNA_DIR}/config.json"]
    missing = [name for name in missing if not (folder / name).is_file()]
    if need_weights:
        if not _weight_files(folder / VICUNA_DIR):
            missing.append(f"{VICUNA_DIR}/ weights (*.safetensors or *.bin)")
        if not _weight_files(folder / BLIP2_DIR):
            missing.append(f"{BLIP2_DIR}/ weights (*.safetensors or *.bin)")
        if not any((folder / name).is_file() for name in PROJECTION_NAMES):
            missing.append(f"{PROJECTION_NAMES[0]} (MiniGPT-4's pretrained_minigpt4_7b.pth)")
    if missing:
        raise ModelError(
            f"{spec.text}: the MiniGPT-4 folder {folder} lacks {', '.join(missing)}. It must hold {_LAYOUT}; "
            "see the README, 'MiniGPT-4'."
        )
    return folder


def _weight_files(folder: Path) -> list[Path]:
    for pattern in _WEIGHT_PATTERNS:  # safetensors first: a hub snapshot may hold both formats
        if files := sorted(folder.glob(pattern)):
            return files
    return []


def projection_file(folder: Path) -> Path:
    """The released MiniGPT-4 checkpoint in the folder, under our name or its release names."""
    for name in PROJECTION_NAMES:
        if (folder / name).is_file():
            return folder / name
    raise ModelError(f"No MiniGPT-4 projection checkpoint in {folder} (expected one of {', '.join(PROJECTION_NAMES)}).")


def _blip2_config(folder: Path) -> object:
    from transformers import Blip2Config

    try:
        config = Blip2Config.from_pretrained(folder)
    except (OSError, ValueError, TypeError) as error:
        raise ModelError(f"{folder}/config.json is not a BLIP-2 configuration ({error}).") from error
    if config.qformer_config.encoder_hidden_size != config.vision_config.hidden_size:
        raise ModelError(f"{folder}/config.json: the Q-Former's encoder width does not match the vision encoder's.")
    return config


def _tokenizer(folder: Path) -> object:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, use_fast=True)
    except (OSError, ValueError, TypeError) as error:
        raise ModelError(f"No usable tokenizer in {folder} ({error}); copy Vicuna's tokenizer files there.") from error
    if not getattr(tokenizer, "is_fast", False):
        raise ModelError(f"The tokenizer in {folder} is not a fast tokenizer (the scorer needs character offsets).")
    return tokenizer


def _llama(folder: Path, random_weights: bool, dtype: torch.dtype) -> torch.nn.Module:
    from safetensors import SafetensorError
    from transformers import LlamaConfig, LlamaForCausalLM

    try:
        if random_weights:
            return LlamaForCausalLM._from_config(LlamaConfig.from_pretrained(folder), dtype=dtype)
        llama, info = LlamaForCausalLM.from_pretrained(folder, dtype=dtype, output_loading_info=True)
    except ValueError as error:
        raise ModelError(f"{folder} is not a loadable Llama (Vicuna) folder ({error}).") from error
    except (OSError, RuntimeError, SafetensorError) as error:  # unreadable or truncated weights, other shapes
        raise CheckpointError(
            f"The Vicuna weights in {folder} cannot be loaded: {str(error).splitlines()[0]}"
        ) from error
    if problems := [k for kind in ("missing_keys", "mismatched_keys") for k in sorted(map(str, info[kind]))]:
        raise CheckpointError(
            f"The Vicuna weights in {folder} do not fit its config.json ({len(problems)} tensors missing or of "
            f"another shape: {', '.join(problems[:4])})."
        )
    return llama


def _read_blip2_tensors(folder: Path) -> tuple[dict[str, torch.Tensor], list[Path]]:
    """The vision, Q-Former and query tensors of a BLIP-2 folder, and the files they came from. Safetensors files
    are read tensor by tensor, so a full Blip2ForConditionalGeneration's FlanT5 weights are never loaded."""
    from safetensors import SafetensorError, safe_open

    tensors, used = {}, []
    for path in _weight_files(folder):
        if path.suffix == ".safetensors":
            try:
                with safe_open(str(path), framework="pt") as f:
                    part = {k: f.get_tensor(k) for k in f.keys() if k.startswith(_BLIP2_PREFIXES)}  # noqa: SIM118
            except (SafetensorError, OSError) as error:
                raise CheckpointError(f"{path.name} is not a readable safetensors file ({error}).") from error
        else:
            part = {k: v for k, v in read_state_dict(path).items() if k.startswith(_BLIP2_PREFIXES)}
        if part:
            tensors.update(part)
            used.append(path)
    return tensors, used


def _load_blip2_weights(network: MiniGPT4Network, folder: Path) -> list[Path]:
    tensors, used = _read_blip2_tensors(folder)
    if not tensors:
        raise CheckpointError(
            f"The weights in {folder} hold no vision_model.*, qformer.* or query_tokens tensors: not a BLIP-2 model. "
            "Use Salesforce/blip2-flan-t5-xxl or convert LAVIS's files with convert_lavis_blip2."
        )
    for name, module in (("vision_model.", network.vision), ("qformer.", network.qformer)):
        state = {k.removeprefix(name): v for k, v in tensors.items() if k.startswith(name)}
        fit_part(module, state, f"BLIP-2 {name.rstrip('.')} in {folder}")
        module.load_state_dict({k: v for k, v in state.items() if k in module.state_dict()}, strict=True)
    queries = tensors.get("query_tokens")
    if queries is None or queries.shape != network.query_tokens.shape:
        got = "none" if queries is None else tuple(queries.shape)
        raise CheckpointError(f"query_tokens in {folder}: {got}, expected {tuple(network.query_tokens.shape)}.")
    network.query_tokens.data.copy_(queries)
    return used


def fit_part(module: torch.nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    """Every tensor the module needs, in its shape; extra tensors (another BLIP-2 head's) are ignored."""
    expected = module.state_dict()
    if problems := fit_report(module, {k: v for k, v in state.items() if k in expected}):
        raise CheckpointError(f"The {what} does not fit the configured architecture: {problems}.")


def _load_projection(network: MiniGPT4Network, path: Path) -> None:
    state = read_state_dict(path)  # weights_only; unwraps the release's {"model": ...}
    projection = {k.removeprefix("llama_proj."): v for k, v in state.items() if k.startswith("llama_proj.")}
    if not projection:
        raise CheckpointError(
            f"{path.name} holds no llama_proj.* tensors ({len(state)} others): it is not MiniGPT-4's released "
            "checkpoint (pretrained_minigpt4_7b.pth)."
        )
    if problems := fit_report(network.llama_proj, projection):
        expected = tuple(network.llama_proj.weight.shape)
        raise CheckpointError(
            f"{path.name} does not fit this MiniGPT-4: {problems}. The projection must map the Q-Former's "
            f"{expected[1]} features to the Vicuna's {expected[0]} (7B: 4096; a 13B checkpoint gives 5120)."
        )
    network.llama_proj.load_state_dict(projection, strict=True)


def _setup_hash(folder: Path) -> str:
    """One SHA-256 over the parts' configurations and Vicuna's tokenizer files: what shapes answers besides weights."""
    files = [
        p for part in (BLIP2_DIR, VICUNA_DIR) for p in sorted((folder / part).iterdir()) if p.suffix in SETUP_SUFFIXES
    ]
    lines = [f"{path.relative_to(folder).as_posix()} {sha256_file(path)}" for path in files if path.is_file()]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _combined_hash(folder: Path, blip2_files: list[Path], projection: Path) -> str:
    """One SHA-256 over every weight file's name (relative to the folder) and SHA-256, in a fixed order."""
    files = [*blip2_files, *_weight_files(folder / VICUNA_DIR), projection]
    lines = sorted(f"{path.relative_to(folder).as_posix()} {sha256_file(path)}" for path in files)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()
