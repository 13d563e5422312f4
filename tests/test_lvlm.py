"""Vision-language models (hf:...): the prefix-shared answer losses against a naive one-forward-per-answer reference,
runs in the run format (1 vs 20 only), and clear refusals of bad folders and of models too big for the machine."""

import json
import shutil
from dataclasses import replace

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from engine.dataset.reader import load_dataset
from engine.dataset.synthetic import write_dataset
from engine.inference.evaluator import EvalOptions, Evaluator
from engine.inference.image_cache import decode
from engine.inference.labels import answer_names, load_candidates
from engine.inference.lvlm import SizeEstimate, candidate_losses, tokenize_answers
from engine.models import CheckpointError, ModelError, check_weights, load_model, parse_spec
from engine.models.tiny_llava import write_tiny_llava
from engine.models.vlm import ANSWER, QUESTION
from engine.runs.format import ONE_VS_20, ONE_VS_1000

CLASSES = [296, 279, 9]
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def llava(tmp_path_factory):
    return write_tiny_llava(tmp_path_factory.mktemp("llava") / "tiny-llava", list(answer_names("wordnet")))


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    # Odd sizes, so the processor's resize and centre crop are exercised in both orientations.
    return write_dataset(tmp_path_factory.mktemp("lvlm-data") / "data", CLASSES, per_group=2, sizes=(45, 77))


def options(tmp_path, **changes) -> EvalOptions:
    base = EvalOptions(results=tmp_path / "results", cache=tmp_path / "cache", device=CPU, workers=1, batch_size=3)
    return replace(base, **changes)


def pixels(model, dataset, images) -> torch.Tensor:
    """(B, 3, H, W) normalized pixels as the engine feeds them: the recipe's uint8 pixels, normalized on the device."""
    recipe = model.recipe
    raw = torch.stack([torch.tensor(recipe.apply(decode(dataset.root / i.image_id))) for i in images])
    mean, std = torch.tensor(recipe.mean).view(1, 3, 1, 1), torch.tensor(recipe.std).view(1, 3, 1, 1)
    return (raw.permute(0, 3, 1, 2).float() / 255 - mean) / std


def naive_losses(model, image, names: list[str], question: str = QUESTION, answer: str = ANSWER) -> list[float]:
    """One full forward per answer through the model's own processor (the photo preprocessed by it, not by the
    engine's cache), fp32, cross-entropy over the answer's own tokens only."""
    vlm, losses = model.vlm, []
    for name in names:
        talk = vlm.conversation(question.replace("{}", name), answer.replace("{}", name))
        inputs = vlm.processor(images=[image], text=[talk.full], return_tensors="pt")
        text = vlm.tokenizer(talk.full, return_offsets_mapping=True)
        # Image tokens are expanded in `inputs`: align the text tokens from the end, where the answer is.
        ids, offsets = inputs["input_ids"][0], text["offset_mapping"]
        assert ids[-len(offsets) :].tolist()[-5:] == text["input_ids"][-5:]
        start, end = talk.answer
        scored = torch.tensor([a < end and b > start for a, b in offsets])
        position = torch.arange(len(ids))[-len(offsets) :][scored]
        with torch.no_grad():
            logits = model.network(**inputs).logits[0].float()
        loss = torch.nn.functional.cross_entropy(logits[position - 1], ids[position], reduction="mean")
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("packed", [True, False], ids=["answers packed in one row", "prompt cache repeated"])
def test_prefix_shared_losses_equal_one_forward_per_answer(llava, photos, packed):
    model = load_model(llava, CPU)
    assert model.vlm.packs_answers  # LLaVA packs; models with other position schemes repeat the cache
    model.vlm.packs_answers = packed
    dataset = load_dataset(photos)
    names = list(answer_names("wordnet"))
    candidates = load_candidates(None)
    answers = tokenize_answers(model.vlm, QUESTION, ANSWER, names)
    assert len(set(answers.mask.sum(1).tolist())) > 1  # answers of different lengths share a padded batch
    recipe = model.recipe
    assert recipe is not None  # a fixed-size processor: photos come from the decode-once cache
    images = dataset.images[::3]
    x = pixels(model, dataset, images)
    options_ = torch.tensor([candidates[i.class_id] for i in images])
    shared = candidate_losses(model.vlm, x, answers, options_)
    for row, image in enumerate(images):
        reference = naive_losses(model, decode(dataset.root / image.image_id), [names[c] for c in options_[row]])
        np.testing.assert_allclose(shared[row].numpy(), reference, atol=1e-4)
        assert shared[row].argmin().item() == int(np.argmin(reference))


def test_summed_scores_are_the_mean_times_the_answer_length(llava, photos):
    model = load_model(llava, CPU)
    dataset = load_dataset(photos)
    answers = tokenize_answers(model.vlm, QUESTION, ANSWER, list(answer_names("wordnet")))
    options_ = torch.tensor([[10, 20, 30]])
    x = pixels(model, dataset, dataset.images[:1])
    means = candidate_losses(model.vlm, x, answers, options_, "mean")
    sums = candidate_losses(model.vlm, x, answers, options_, "sum")
    lengths = answers.scored[options_[0]].sum(1)
    torch.testing.assert_close(sums[0], means[0] * lengths, atol=1e-4, rtol=1e-5)


def test_a_run_answers_1_vs_20_only_and_is_not_redone(llava, photos, tmp_path):
    with Evaluator(load_dataset(photos), options(tmp_path)) as evaluator:
        outcome = evaluator.evaluate(llava, name="tiny LLaVA")
        again = evaluator.evaluate(llava)
    assert not outcome.skipped and again.skipped and again.run_id == outcome.run_id
    manifest = json.loads((outcome.path / "run.json").read_text())
    assert manifest["model"]["family"] == "LVLM" and manifest["setups"] == [ONE_VS_20]
    assert manifest["labels"]["lvlm"] == {"question": QUESTION, "answer": ANSWER, "score": "mean"}
    table = pq.read_table(outcome.path / "predictions.parquet").to_pandas()
    assert len(table) == 2 * 2 * len(CLASSES)
    assert table[f"pred_{ONE_VS_1000}"].isna().all() and table[f"pred_{ONE_VS_20}"].notna().all()
    candidates = load_candidates(None)
    assert all(p in candidates[c] for p, c in zip(table[f"pred_{ONE_VS_20}"], table["class_id"], strict=True))
    probs = np.stack(table["top5_1vs20_probs"])
    assert (probs > 0).all() and (probs.sum(1) <= 1 + 1e-6).all() and (np.diff(probs, axis=1) <= 1e-7).all()


def test_question_and_score_are_part_of_the_run_identity(llava, photos, tmp_path):
    with Evaluator(load_dataset(photos), options(tmp_path)) as evaluator:
        base = evaluator.evaluate(llava).run_id
    asked = options(tmp_path, question="Describe this image in detail.")
    with Evaluator(load_dataset(photos), asked) as evaluator:
        other_question = evaluator.evaluate(llava).run_id
    with Evaluator(load_dataset(photos), options(tmp_path, answer_score="sum")) as evaluator:
        summed = evaluator.evaluate(llava).run_id
    assert len({base, other_question, summed}) == 3


def test_processors_that_size_each_photo_give_the_same_answers(llava, photos, tmp_path):
    """Without a recipe (as for LLaVA-NeXT or Qwen2-VL), photos go through the processor one by one, uncached."""
    dataset = load_dataset(photos)
    model = load_model(llava, CPU)
    with Evaluator(dataset, options(tmp_path)) as evaluator:
        cached = evaluator.evaluate_model(model)
    model.recipe = model.vlm.recipe = None
    with Evaluator(dataset, options(tmp_path / "uncached")) as evaluator:
        uncached = evaluator.evaluate_model(model)
    assert uncached.run_id != cached.run_id  # the preprocessing is part of the identity
    a, b = (pq.read_table(o.path / "predictions.parquet").to_pandas() for o in (cached, uncached))
    assert a["pred_1vs20"].tolist() == b["pred_1vs20"].tolist()
    np.testing.assert_allclose(np.stack(a["top5_1vs20_scores"]), np.stack(b["top5_1vs20_scores"]), atol=1e-4)


def test_the_paper_id_names_llava_on_the_hub():
    assert parse_spec("lvlm:llava-1.5-7b").text == "hf:llava-hf/llava-1.5-7b-hf"
    assert parse_spec("LLaVA1.5-7B").kind == "hf"


def test_1_vs_1000_alone_is_refused_in_words(llava, photos, tmp_path):
    evaluator = Evaluator(load_dataset(photos), options(tmp_path, setups=(ONE_VS_1000,)))
    with evaluator, pytest.raises(ModelError, match="scored in 1 vs 20 only"):
        evaluator.evaluate(llava)
    assert not (tmp_path / "results" / "runs").exists() or not any((tmp_path / "results" / "runs").iterdir())


def test_a_model_too_big_for_the_machine_is_refused_with_its_size_and_time():
    huge = SizeEstimate(7_060_000_000, 28 * 2**30, 24 * 2**30, 400.0, 1e11)
    assert "7.06 B parameters" in huge.problem(CPU, 13100) and "24.0 GiB" in huge.problem(CPU, 13100)
    slow = SizeEstimate(7_060_000_000, 28 * 2**30, 100 * 2**30, 400.0, 1e11)
    assert "17 days" in slow.problem(CPU, 13100) and "100 GFLOP/s" in slow.problem(CPU, 13100)
    assert SizeEstimate(1000, 4000, 2**30, 0.01, 1e11).problem(CPU, 10) == ""


def tiny_machine(parameters, device, photos) -> SizeEstimate:
    """A machine with 1 byte free: every model is too big for it."""
    return SizeEstimate(parameters, 4 * parameters, 1, 0.1, 1e9)


def test_the_evaluator_measures_the_machine_before_loading(llava, photos, tmp_path, monkeypatch):
    import engine.inference.evaluator as evaluator_module
    import engine.inference.lvlm as lvlm_module

    monkeypatch.setattr(evaluator_module, "load_model", lambda *a, **k: pytest.fail("loaded a model it refused"))
    monkeypatch.setattr(lvlm_module, "estimate_size", tiny_machine)
    evaluator = Evaluator(load_dataset(photos), options(tmp_path))
    with evaluator, pytest.raises(ModelError, match="--allow-large to run it anyway"):
        evaluator.evaluate(llava)


def test_a_job_for_a_model_too_big_for_the_machine_is_not_queued(llava, photos, tmp_path, monkeypatch, capsys):
    """The Evaluate page's check: the same refusal as the terminal's, before anything is queued."""
    import engine.inference.lvlm as lvlm_module
    from engine import cli, config, jobs

    monkeypatch.setattr(lvlm_module, "estimate_size", tiny_machine)
    monkeypatch.setenv(config.ROOTS_ENV, f"{parse_spec(llava).folder.parent}:{photos}")
    results = tmp_path / "results"
    argv = ["job", "submit", "--json", "--no-start", f"--results={results}", f"--model={llava}", f"--data={photos}"]
    assert cli.main(argv) == 2
    assert "more than the 0.0 GiB" in json.loads(capsys.readouterr().out)["error"]
    assert jobs.list_jobs(results) == []


def test_a_folder_without_a_config_is_not_a_model(tmp_path):
    (tmp_path / "weights").mkdir()
    with pytest.raises(ModelError, match="no config.json"):
        load_model(f"hf:{tmp_path / 'weights'}", CPU)
    with pytest.raises(ModelError, match="is not a folder"):
        load_model(f"hf:{tmp_path / 'nothing-here'}", CPU)


def test_weights_of_another_size_are_refused_before_and_at_loading(llava, tmp_path):
    folder = tmp_path / "mixed"
    shutil.copytree(parse_spec(llava).folder, folder)
    config = json.loads((folder / "config.json").read_text())
    config["text_config"]["intermediate_size"] = 96  # the weights were saved with 128
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="parameters, but its config.json describes"):
        check_weights(f"hf:{folder}")
    with pytest.raises(CheckpointError, match="do not fit|cannot be loaded"):
        load_model(f"hf:{folder}", CPU)


def test_a_processor_without_a_chat_template_is_refused(llava, tmp_path):
    folder = tmp_path / "no-template"
    shutil.copytree(parse_spec(llava).folder, folder)
    for name in ("chat_template.jinja", "chat_template.json"):
        (folder / name).unlink(missing_ok=True)
    for name in ("processor_config.json", "tokenizer_config.json"):
        path = folder / name
        if path.exists():
            data = json.loads(path.read_text())
            data.pop("chat_template", None)
            path.write_text(json.dumps(data))
    with pytest.raises(ModelError, match="no chat template"):
        load_model(f"hf:{folder}", CPU)


def test_checking_a_folder_reads_shapes_only(llava):
    checked = check_weights(llava)
    assert checked["family"] == "LVLM" and checked["parameters"] > 0


def test_a_yes_no_question_naming_each_candidate_shares_only_the_photo(llava, photos):
    model = load_model(llava, CPU)
    dataset = load_dataset(photos)
    names = list(answer_names("wordnet"))
    question, answer = "Is the main object in the image a {}?", "Yes"
    answers = tokenize_answers(model.vlm, question, answer, names)
    assert answers.prefix.endswith("Is the main object in the image a")
    x = pixels(model, dataset, dataset.images[:1])
    options_ = torch.tensor([[296, 279, 9]])
    shared = candidate_losses(model.vlm, x, answers, options_)
    image = decode(dataset.root / dataset.images[0].image_id)
    reference = naive_losses(model, image, [names[c] for c in options_[0]], question, answer)
    np.testing.assert_allclose(shared[0].numpy(), reference, atol=1e-4)


def test_the_command_line_asks_another_question_and_lists_1_vs_20_only(llava, photos, tmp_path, capsys):
    from engine import cli

    args = ["eval", "--model", llava, "--data", photos, "--results", tmp_path / "r", "--cache", tmp_path / "c"]
    args += ["--workers", "1", "--question", "Describe this image in detail.", "--score", "sum"]
    assert cli.main([str(a) for a in args]) == 0
    out = capsys.readouterr().out
    (manifest,) = (tmp_path / "r" / "runs").glob("*/run.json")
    labels = json.loads(manifest.read_text())["labels"]["lvlm"]
    assert labels == {"question": "Describe this image in detail.", "answer": ANSWER, "score": "sum"}
    listed = [line for line in out.splitlines() if line.startswith(manifest.parent.name)]  # `counteranimal runs`
    assert len(listed) == 1 and ONE_VS_20 in listed[0]  # no empty 1 vs 1000 row


def test_answers_name_a_class_by_its_first_lemma_not_its_synonym_list():
    assert answer_names("wordnet")[296] == "ice bear" and answer_names("wordnet")[9] == "ostrich"
    assert len(answer_names("openai")) == 1000 and answer_names("openai")[296] == "polar bear"


@pytest.mark.parametrize("cached", [True, False], ids=["image cache", "processor per photo"])
def test_an_unreadable_photo_is_skipped_and_listed_as_for_other_models(llava, tmp_path, cached):
    data = write_dataset(tmp_path / "data", CLASSES, per_group=4, sizes=(40, 50))  # 1 in 24: under the 5% limit
    dataset = load_dataset(data)
    broken = dataset.images[1].image_id
    (data / broken).write_bytes(b"not a jpeg")
    model = load_model(llava, CPU)
    if not cached:
        model.recipe = model.vlm.recipe = None
    with Evaluator(load_dataset(data), options(tmp_path, workers=1)) as evaluator:
        outcome = evaluator.evaluate_model(model)
    manifest = json.loads((outcome.path / "run.json").read_text())
    assert [s["image_id"] for s in manifest["skipped_files"]] == [broken]
    assert manifest["images"]["evaluated"] == len(dataset.images) - 1
    table = pq.read_table(outcome.path / "predictions.parquet").to_pandas()
    assert broken not in set(table["image_id"]) and len(table) == len(dataset.images) - 1


def test_truncated_weights_are_refused_in_words(llava, tmp_path):
    folder = tmp_path / "truncated"
    shutil.copytree(parse_spec(llava).folder, folder)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="cannot be loaded"):
        load_model(f"hf:{folder}", CPU)


def test_a_changed_chat_template_is_another_run(llava, photos, tmp_path):
    folder = tmp_path / "other-template"
    shutil.copytree(parse_spec(llava).folder, folder)
    with Evaluator(load_dataset(photos), options(tmp_path)) as evaluator:
        before = evaluator.evaluate(f"hf:{folder}").run_id
        template = folder / "chat_template.jinja"
        template.write_text(template.read_text().replace("USER: ", "Human: "))
        after = evaluator.evaluate(f"hf:{folder}")
    assert not after.skipped and after.run_id != before
