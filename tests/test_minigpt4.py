"""MiniGPT-4 assembled from transformers parts (`minigpt4:DIR`): its prompt, its prefix-shared answer losses against a
naive full forward per candidate, the folder's errors, random weights and the LAVIS conversion. A tiny random model."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image

from engine.dataset.reader import load_dataset
from engine.dataset.synthetic import write_dataset
from engine.inference.evaluator import EvalOptions, Evaluator
from engine.inference.lvlm import Answers, candidate_losses, tokenize_answers
from engine.models.checkpoints import CheckpointError
from engine.models.convert_lavis import convert_lavis_blip2
from engine.models.load_minigpt4 import load_minigpt4
from engine.models.loaded import RANDOM_INIT
from engine.models.tiny_minigpt4 import write_tiny_minigpt4
from engine.models.vlm import ANSWER, QUESTION
from engine.zoo.specs import ModelError, parse_spec

NAMES = ["ice bear", "tabby cat", "great white shark", "hummingbird", "axolotl", "king penguin"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("minigpt4") / "tiny"
    write_tiny_minigpt4(folder)
    return folder


@pytest.fixture(scope="module")
def model(tiny: Path) -> object:
    return load_minigpt4(parse_spec(f"minigpt4:{tiny}"), random_weights=False)


def _copy(tiny: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny, tmp_path / "copy"))


def _photos() -> list[Image.Image]:
    rng = np.random.default_rng(0)
    sizes = [(64, 48), (30, 90), (200, 120)]
    return [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for w, h in sizes]


def test_conversation_is_minigpt4s_vicuna_v0_template(model: object) -> None:
    talk = model.vlm.conversation(QUESTION, ANSWER.format("ice bear"))
    prefix = (
        "Give the following image: <Img>ImageContent</Img>. You will be able to see the image once I provide it to "
        "you. Please answer my questions.###Human: <Img><ImageHere></Img> What is the main object in the image?"
        "###Assistant: "
    )
    assert talk.prefix == prefix
    assert talk.full == prefix + "A ice bear###"
    assert talk.full[talk.answer[0] : talk.answer[1]] == "A ice bear"


def test_prefix_embedding_starts_with_bos_and_splices_the_queries(model: object) -> None:
    vlm = model.vlm
    prefix = vlm.conversation(QUESTION, "A x").prefix
    before, after = prefix.split("<ImageHere>")
    n_before = len(vlm.tokenizer(before).input_ids)
    assert vlm.tokenizer(before).input_ids[0] == vlm.tokenizer.bos_token_id
    embeds = vlm.embed_prefix(_photos()[:2], prefix)
    queries = model.network.query_tokens.shape[1]
    assert embeds.shape[:2] == (2, n_before + queries + len(vlm.tokenizer(after, add_special_tokens=False).input_ids))
    image = model.network.encode_images(vlm.pixels(_photos()[:2]))
    assert torch.allclose(embeds[:, n_before : n_before + queries], image)


def _answers(vlm: object) -> Answers:
    return tokenize_answers(vlm, QUESTION, ANSWER, NAMES)


def _naive_losses(vlm: object, photos: list, answers: Answers) -> torch.Tensor:
    """(B, C): one full forward per photo and candidate over the whole embedded sequence, fp32, the answer's tokens
    only."""
    llama = vlm.network.llama
    out = torch.zeros(len(photos), len(NAMES))
    for b, photo in enumerate(photos):
        for c in range(len(NAMES)):
            row, scored = answers.ids[c][answers.mask[c].bool()], answers.scored[c][answers.mask[c].bool()]
            head = vlm.embed_prefix([photo], answers.prefix)
            answer = llama.get_input_embeddings()(row[None])
            with torch.no_grad():
                logits = llama(inputs_embeds=torch.cat([head, answer], 1)).logits[0].float()
            p = head.shape[1]  # position p - 1 + j predicts answer token j
            losses = torch.nn.functional.cross_entropy(logits[p - 1 : p - 1 + len(row)], row, reduction="none")
            out[b, c] = losses[scored].mean()
    return out


def test_answers_are_tokenized_as_minigpt4_tokenizes_its_targets(model: object) -> None:
    """Apart from the prompt, without BOS (its training tokenizes `answer + "###"` on its own): the prompt's
    trailing space stays a token of its own, as the model saw it."""
    vlm = model.vlm
    answers = _answers(vlm)
    for i, name in enumerate(NAMES):
        talk = vlm.conversation(QUESTION, ANSWER.format(name))
        tail = vlm.tokenizer(talk.full[len(talk.prefix) :], add_special_tokens=False).input_ids
        assert answers.prefix == talk.prefix
        assert answers.ids[i, : len(tail)].tolist() == tail and answers.mask[i].sum() == len(tail)
        assert not answers.scored[i, len(tail) - 1]  # the closing "###" is never scored
    assert len(set(answers.mask.sum(1).tolist())) > 1  # answers of different token lengths: padding is exercised


def test_prefix_shared_losses_equal_a_full_forward_per_candidate(model: object) -> None:
    vlm, photos = model.vlm, _photos()
    answers = _answers(vlm)
    options = torch.tensor([[0, 1, 2, 3, 4, 5], [5, 4, 3, 2, 1, 0], [1, 3, 5, 0, 2, 4]])
    shared = candidate_losses(vlm, vlm.pixels(photos), answers, options)
    naive = torch.gather(_naive_losses(vlm, photos, answers), 1, options)
    assert shared.dtype == torch.float32
    assert torch.allclose(shared, naive, atol=1e-4), (shared, naive)
    assert torch.equal(shared.argmin(1), naive.argmin(1))
    assert shared.std() > 1e-3  # the candidates' losses differ: the comparison means something
    # ... and so do the photos': the pixels reach the answers through the ViT, ln_vision, the Q-Former's attention
    assert (shared[0, options[0].argsort()] - shared[1, options[1].argsort()]).abs().max() > 1e-3


def test_truncated_vicuna_weights_are_refused_in_words(tiny: Path, tmp_path: Path) -> None:
    folder = _copy(tiny, tmp_path)
    (weights,) = (folder / "vicuna").glob("*.safetensors")
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="Vicuna weights .* cannot be loaded"):
        load_minigpt4(parse_spec(f"minigpt4:{folder}"), random_weights=False)


def test_a_run_through_the_evaluator(tiny: Path, tmp_path: Path) -> None:
    dataset = load_dataset(write_dataset(tmp_path / "data", [296, 279], per_group=2, sizes=(50, 70)))
    options = EvalOptions(results=tmp_path / "results", cache=tmp_path / "cache", device=torch.device("cpu"), workers=1)
    with Evaluator(dataset, options) as evaluator:
        outcome = evaluator.evaluate(f"minigpt4:{tiny}")
    table = pq.read_table(outcome.path / "predictions.parquet").to_pandas()
    assert len(table) == 8 and table["pred_1vs20"].notna().all() and table["pred_1vs1000"].isna().all()


def test_missing_pieces_are_named(tiny: Path, tmp_path: Path) -> None:
    folder = _copy(tiny, tmp_path)
    (folder / "minigpt4_proj.pth").unlink()
    shutil.rmtree(folder / "vicuna")
    with pytest.raises(ModelError, match=r"vicuna/config\.json.*minigpt4_proj\.pth"):
        load_minigpt4(parse_spec(f"minigpt4:{folder}"), random_weights=False)
    with pytest.raises(ModelError, match="not a folder"):
        load_minigpt4(parse_spec(f"minigpt4:{tmp_path / 'nowhere'}/"), random_weights=False)


def test_projection_of_another_size_does_not_fit(tiny: Path, tmp_path: Path) -> None:
    folder = _copy(tiny, tmp_path)
    wrong = torch.nn.Linear(32, 64).state_dict()
    torch.save({"model": {f"llama_proj.{k}": v for k, v in wrong.items()}}, folder / "minigpt4_proj.pth")
    with pytest.raises(CheckpointError, match=r"does not fit.*shapes differ"):
        load_minigpt4(parse_spec(f"minigpt4:{folder}"), random_weights=False)
    torch.save({"model": {"t5_proj.weight": torch.zeros(2, 2)}}, folder / "minigpt4_proj.pth")
    with pytest.raises(CheckpointError, match="no llama_proj"):
        load_minigpt4(parse_spec(f"minigpt4:{folder}"), random_weights=False)


class _RunsCode:
    def __reduce__(self) -> tuple:
        return (os.getcwd, ())  # harmless here; what matters is that unpickling would call a function


def test_a_pickle_that_would_run_code_is_refused(tiny: Path, tmp_path: Path) -> None:
    folder = _copy(tiny, tmp_path)
    torch.save({"model": {"llama_proj.weight": torch.zeros(1)}, "extra": _RunsCode()}, folder / "minigpt4_proj.pth")
    with pytest.raises(CheckpointError, match="refused"):
        load_minigpt4(parse_spec(f"minigpt4:{folder}"), random_weights=False)


def test_a_blip2_folder_without_vision_weights_is_refused(tiny: Path, tmp_path: Path) -> None:
    from safetensors.torch import save_file

    folder = _copy(tiny, tmp_path)
    save_file({"language_model.x": torch.zeros(2)}, str(folder / "blip2" / "model.safetensors"))
    with pytest.raises(CheckpointError, match="not a BLIP-2 model"):
        load_minigpt4(parse_spec(f"minigpt4:{folder}"), random_weights=False)


def test_random_weights_build_from_configs_alone(tiny: Path, tmp_path: Path) -> None:
    folder = _copy(tiny, tmp_path)
    for weights in (folder / "blip2" / "model.safetensors", folder / "vicuna" / "model.safetensors"):
        weights.unlink()
    (folder / "minigpt4_proj.pth").unlink()
    loaded = load_minigpt4(parse_spec(f"minigpt4:{folder}"), random_weights=True, dtype=torch.bfloat16)
    assert loaded.checkpoint == RANDOM_INIT and loaded.family == "LVLM"
    assert loaded.network.llama.dtype == torch.bfloat16
    prefix = loaded.vlm.conversation(QUESTION, "A x").prefix
    assert loaded.vlm.encode_prefix(_photos()[:1], prefix).last_logits.dtype == torch.float32


def test_checkpoint_hash_covers_the_weight_files(model: object, tiny: Path, tmp_path: Path) -> None:
    assert model.checkpoint["source"] == str(tiny) and len(model.checkpoint["sha256"]) == 64
    folder = _copy(tiny, tmp_path)
    other = torch.nn.Linear(32, 48).state_dict()
    torch.save({"model": {f"llama_proj.{k}": v for k, v in other.items()}}, folder / "minigpt4_proj.pth")
    reloaded = load_minigpt4(parse_spec(f"minigpt4:{folder}"), random_weights=False)
    assert reloaded.checkpoint["sha256"] != model.checkpoint["sha256"]


def _as_lavis(tensors: dict[str, torch.Tensor], layers: int) -> tuple[dict, dict]:
    """The inverse of the conversion: transformers BLIP-2 names back to eva_vit_g.pth's and the Q-Former's."""
    eva, qformer = {}, {}
    names = {"layer_norm1": "norm1", "layer_norm2": "norm2", "self_attn.qkv": "attn.qkv"}
    names |= {"self_attn.projection": "attn.proj", "mlp.fc1": "mlp.fc1", "mlp.fc2": "mlp.fc2"}
    embeddings = {"class_embedding": "cls_token", "position_embedding": "pos_embed"}
    embeddings |= {"patch_embedding.weight": "patch_embed.proj.weight", "patch_embedding.bias": "patch_embed.proj.bias"}
    for k, v in embeddings.items():
        eva[v] = tensors[f"vision_model.embeddings.{k}"]
    for i in range(layers):
        for new, old in names.items():
            for kind in ("weight", "bias"):
                eva[f"blocks.{i}.{old}.{kind}"] = tensors[f"vision_model.encoder.layers.{i}.{new}.{kind}"]
        q, _, v = eva.pop(f"blocks.{i}.attn.qkv.bias").chunk(3)
        eva[f"blocks.{i}.attn.q_bias"], eva[f"blocks.{i}.attn.v_bias"] = q, v
    qformer["ln_vision.weight"] = tensors["vision_model.post_layernorm.weight"]
    qformer["ln_vision.bias"] = tensors["vision_model.post_layernorm.bias"]
    qformer["query_tokens"] = tensors["query_tokens"]
    for k, v in tensors.items():
        if k.startswith("qformer.layernorm."):
            qformer[k.replace("qformer.layernorm", "Qformer.bert.embeddings.LayerNorm")] = v
        elif k.startswith("qformer.encoder."):
            qformer[k.replace("qformer.", "Qformer.bert.").replace("attention.attention", "attention.self")] = v
    qformer["t5_proj.weight"] = torch.zeros(3, 3)  # the FlanT5 projection MiniGPT-4 does not use
    return eva, {"model": qformer}


def test_lavis_conversion_renames_every_tensor(tiny: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file
    from transformers import Blip2Config

    original = load_file(str(tiny / "blip2" / "model.safetensors"))
    original = {k: v for k, v in original.items() if not k.startswith("language_projection")}
    config = Blip2Config.from_pretrained(tiny / "blip2")
    eva, qformer = _as_lavis(original, config.vision_config.num_hidden_layers)
    for k in [k for k in eva if k.endswith("qkv.bias")]:
        del eva[k]
    torch.save(eva, tmp_path / "eva_vit_g.pth")
    torch.save(qformer, tmp_path / "blip2_pretrained_flant5xxl.pth")
    out = convert_lavis_blip2(
        tmp_path / "eva_vit_g.pth", tmp_path / "blip2_pretrained_flant5xxl.pth", tmp_path / "blip2", config=config
    )
    converted = load_file(str(out / "model.safetensors"))
    assert set(converted) == set(original)
    # EVA has no key bias: the converted qkv bias is (q, 0, v), as transformers' own conversion writes it.
    for k, v in original.items():
        expected = v.clone()
        if k.endswith("qkv.bias"):
            expected[v.shape[0] // 3 : 2 * v.shape[0] // 3] = 0
        assert torch.equal(converted[k], expected), k
