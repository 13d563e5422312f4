"""A tiny random LLaVA saved as transformers saves one (a CLIP vision tower, a Llama language model, a tokenizer
trained on the spot with `tokenizers`, a chat template in LLaVA-1.5's format): built in seconds without a download,
for the tests and benchmarks of vision-language scoring. Its answers mean nothing."""

from __future__ import annotations

from pathlib import Path

import torch

# LLaVA-1.5's conversation format, as llava-hf's processors write it.
CHAT_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'user' %}USER: {% else %}ASSISTANT: {% endif %}"
    "{% for item in message['content'] %}{% if item['type'] == 'image' %}<image>\n"
    "{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}{% endfor %}"
    "{% if message['role'] == 'user' %} {% else %}</s>{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)
SPECIAL = ["<unk>", "<s>", "</s>", "<pad>", "<image>"]


def train_tokenizer(corpus: list[str], vocab_size: int = 400) -> object:
    """A byte-pair tokenizer with Llama's conventions (Metaspace pre-tokenizer, BOS added) trained on `corpus`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    tokenizer.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL))
    bos = ("<s>", tokenizer.token_to_id("<s>"))
    tokenizer.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[bos])
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        extra_special_tokens={"image_token": "<image>"},
    )


def write_tiny_llava(
    folder: Path,
    names: list[str],
    image_size: int = 32,
    patch_size: int = 8,
    width: int = 64,
    layers: int = 2,
    seed: int = 0,
) -> str:
    """Save a tiny random LLaVA whose tokenizer knows `names` (the answers it will be asked about) to `folder`;
    returns its spec, `hf:<folder>`. Defaults: 16 image tokens. `image_size=336, patch_size=14` gives LLaVA-1.5's
    576 image tokens, for benchmarks where the prompt's length matters; `width` and `layers` size the language model."""
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    corpus = [f"USER: What is the main object in the image? ASSISTANT: A {name}" for name in names] * 4
    tokenizer = train_tokenizer(corpus)
    tokenizer.chat_template = CHAT_TEMPLATE
    images = CLIPImageProcessor(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    )
    processor = LlavaProcessor(
        image_processor=images,
        tokenizer=tokenizer,
        patch_size=patch_size,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=CHAT_TEMPLATE,
    )
    vision = CLIPVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=image_size,
        patch_size=patch_size, projection_dim=32,
    )  # fmt: skip
    text = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=width, intermediate_size=2 * width, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy="default",
        vision_feature_layer=-2,
    )
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config).eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return f"hf:{folder.resolve()}"
