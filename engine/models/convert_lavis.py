"""LAVIS's BLIP-2 weight files (the ones MiniGPT-4 itself downloads: eva_vit_g.pth and blip2_pretrained_flant5xxl.pth)
converted into a transformers BLIP-2 folder, a `minigpt4:DIR` folder's `blip2/` (engine/models/load_minigpt4.py). No
LAVIS install needed."""

from __future__ import annotations

from pathlib import Path

import torch

from engine.models.checkpoints import CheckpointError, read_state_dict
from engine.models.load_minigpt4 import fit_part


def convert_lavis_blip2(eva_vit_g: Path, qformer_checkpoint: Path, out: Path, config: object | None = None) -> Path:
    """Write `out/config.json` + `out/model.safetensors` (vision_model.*, qformer.*, query_tokens) from LAVIS's
    eva_vit_g.pth and blip2_pretrained_flant5xxl.pth, renamed as transformers' convert_blip_2_original_to_pytorch.py
    renames them. As in MiniGPT-4 (load eva_vit_g.pth, then the Q-Former checkpoint with strict=False), tensors of the
    Q-Former checkpoint win over eva_vit_g.pth's; EVA's 40th block is dropped (BLIP-2 uses 39). `config`: a
    Blip2Config for other sizes (tests); by default BLIP-2's (ViT-g at 224 px, 39 layers; Q-Former with 32 queries)."""
    from safetensors.torch import save_file
    from transformers import Blip2Config, Blip2QFormerModel, Blip2VisionModel

    config = config or Blip2Config(num_query_tokens=32)
    lavis = {f"visual_encoder.{k}": v for k, v in read_state_dict(Path(eva_vit_g)).items()}
    lavis.update(read_state_dict(Path(qformer_checkpoint)))  # unwraps {"model": ...}
    try:
        state = _rename_lavis(lavis, config.vision_config.num_hidden_layers)
    except KeyError as error:
        raise CheckpointError(
            f"{Path(eva_vit_g).name} + {Path(qformer_checkpoint).name} lack {error}: they are not LAVIS's "
            "eva_vit_g.pth and BLIP-2 Q-Former checkpoint (blip2_pretrained_flant5xxl.pth)."
        ) from error
    with torch.device("meta"):  # check names and shapes before writing anything
        for name, cls, sub in (
            ("vision_model.", Blip2VisionModel, config.vision_config),
            ("qformer.", Blip2QFormerModel, config.qformer_config),
        ):
            part = {k.removeprefix(name): v for k, v in state.items() if k.startswith(name)}
            fit_part(cls(sub), part, f"converted {name.rstrip('.')}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(out)
    save_file({k: v.contiguous() for k, v in state.items()}, str(out / "model.safetensors"))
    return out


def _rename_lavis(lavis: dict[str, torch.Tensor], layers: int) -> dict[str, torch.Tensor]:
    renamed = {
        "vision_model.embeddings.class_embedding": lavis["visual_encoder.cls_token"],
        "vision_model.embeddings.position_embedding": lavis["visual_encoder.pos_embed"],
        "vision_model.embeddings.patch_embedding.weight": lavis["visual_encoder.patch_embed.proj.weight"],
        "vision_model.embeddings.patch_embedding.bias": lavis["visual_encoder.patch_embed.proj.bias"],
        "vision_model.post_layernorm.weight": lavis["ln_vision.weight"],
        "vision_model.post_layernorm.bias": lavis["ln_vision.bias"],
        "qformer.layernorm.weight": lavis["Qformer.bert.embeddings.LayerNorm.weight"],
        "qformer.layernorm.bias": lavis["Qformer.bert.embeddings.LayerNorm.bias"],
        "query_tokens": lavis["query_tokens"],
    }
    blocks = {"norm1": "layer_norm1", "norm2": "layer_norm2", "attn.qkv": "self_attn.qkv"}
    blocks |= {"attn.proj": "self_attn.projection", "mlp.fc1": "mlp.fc1", "mlp.fc2": "mlp.fc2"}
    for i in range(layers):
        src, dst = f"visual_encoder.blocks.{i}.", f"vision_model.encoder.layers.{i}."
        for old, new in blocks.items():
            for kind in ("weight", "bias"):
                if f"{src}{old}.{kind}" in lavis:
                    renamed[f"{dst}{new}.{kind}"] = lavis[f"{src}{old}.{kind}"]
        q_bias, v_bias = lavis[f"{src}attn.q_bias"], lavis[f"{src}attn.v_bias"]  # EVA has no key bias
        renamed[f"{dst}self_attn.qkv.bias"] = torch.cat([q_bias, torch.zeros_like(v_bias), v_bias])
    for key, value in lavis.items():
        if key.startswith("Qformer.bert.encoder."):
            new = key.replace("Qformer.bert.", "qformer.").replace("attention.self", "attention.attention")
            renamed[new.replace("crossattention.self", "crossattention.attention")] = value
    return renamed
