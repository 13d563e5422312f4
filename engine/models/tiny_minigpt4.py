"""A tiny random MiniGPT-4 folder in the layout `minigpt4:DIR` loads (see `engine.models.load_minigpt4`): for tests and
demos, built in seconds without downloads."""

from __future__ import annotations

from pathlib import Path

import torch

from engine.models.load_minigpt4 import BLIP2_DIR, PROJECTION_NAMES, SYSTEM, VICUNA_DIR

# What the tokenizer learns from: the prompt template and a few answers, so that prompts take a few dozen tokens.
_CORPUS = [
    SYSTEM,
    "###Human: <Img><ImageHere></Img> What is the main object in the image?###Assistant: A ice bear ###",
    "A tabby cat, A golden retriever, A great white shark, A hummingbird, A king penguin, A brown bear ###",
    "a quick brown fox jumps over the lazy dog while the bald eagle and the common iguana watch",
]


def write_tiny_minigpt4(folder: Path, seed: int = 0) -> str:
    """Write a tiny random MiniGPT-4 (BLIP-2 vision + Q-Former, Llama, projection, tokenizer) into `folder`.

    Returns:
        Its spec, `minigpt4:<folder>`.
    """
    folder = Path(folder)
    torch.manual_seed(seed)
    tokenizer = _tiny_tokenizer()
    _write_blip2(folder / BLIP2_DIR)
    hidden = _write_llama(folder / VICUNA_DIR, tokenizer)
    _write_projection(folder / PROJECTION_NAMES[0], width=32, hidden=hidden)
    return f"minigpt4:{folder}"


def _tiny_tokenizer() -> object:
    """A byte-free BPE with Llama's conventions: a `▁` for each space (and one before the text), `<s>` first."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE(unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    backend.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
    alphabet = sorted(
        set("".join(_CORPUS).replace(" ", "▁")) | set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    )
    trainer = trainers.BpeTrainer(vocab_size=200, special_tokens=["<unk>", "<s>", "</s>"], initial_alphabet=alphabet)
    backend.train_from_iterator(_CORPUS, trainer)
    backend.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>", unk_token="<unk>")


def _write_blip2(folder: Path) -> None:
    """A BLIP-2 folder as transformers saves one: config.json and the vision, Q-Former and query tensors, plus a
    language projection that MiniGPT-4 does not use (as in a full Blip2ForConditionalGeneration snapshot)."""
    from safetensors.torch import save_file
    from transformers import Blip2Config, Blip2QFormerModel, Blip2VisionModel

    vision = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4}
    vision |= {"image_size": 28, "patch_size": 14}
    qformer = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4}
    qformer |= {"encoder_hidden_size": 32, "cross_attention_frequency": 2, "vocab_size": 100}
    config = Blip2Config(vision_config=vision, qformer_config=qformer, num_query_tokens=4)
    # transformers 5 builds these parts with zeros (weights are meant to be loaded), which would make every photo look
    # the same: noise around the built values (norms near 1) lets the photo reach the answers.
    tensors = {f"vision_model.{k}": v for k, v in Blip2VisionModel(config.vision_config).state_dict().items()}
    tensors |= {f"qformer.{k}": v for k, v in Blip2QFormerModel(config.qformer_config).state_dict().items()}
    tensors = {k: v + 0.1 * torch.randn(v.shape) if v.is_floating_point() else v for k, v in tensors.items()}
    tensors["query_tokens"] = torch.randn(1, 4, 32) * 0.5
    tensors["language_projection.weight"] = torch.randn(8, 32)
    folder.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(folder)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(folder / "model.safetensors"))


def _write_llama(folder: Path, tokenizer: object) -> int:
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=48,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        initializer_range=0.2,  # spread logits, so that candidate losses differ clearly
    )
    model = LlamaForCausalLM(config)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return config.hidden_size


def _write_projection(path: Path, width: int, hidden: int) -> None:
    """As MiniGPT-4 releases it: {"model": {"llama_proj.weight", "llama_proj.bias"}} (only the trained layer)."""
    projection = torch.nn.Linear(width, hidden)
    torch.save({"model": {f"llama_proj.{k}": v for k, v in projection.state_dict().items()}}, path)
