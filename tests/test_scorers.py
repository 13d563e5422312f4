"""Predictions equal a direct reference computation with each library's own preprocessing and forward pass."""

import json

import numpy as np
import open_clip
import pytest
import timm
import torch
from PIL import Image
from timm.data import create_transform, resolve_data_config

from engine.dataset.reader import load_dataset
from engine.errors import UserError
from engine.inference.image_cache import load_or_build_cache
from engine.inference.labels import imagenet_classnames, load_candidates, templates
from engine.inference.scorers import Scorer, candidate_matrix, predict
from engine.inference.text_heads import text_head
from engine.models import load_model
from tests.conftest import TINY_CLIP

CPU = torch.device("cpu")


@pytest.fixture
def dataset(dataset_dir):
    return load_dataset(dataset_dir)


def engine_predictions(spec, dataset, tmp_path, candidates=None):
    model = load_model(spec, CPU)
    cache = load_or_build_cache(dataset, model.recipe, tmp_path, workers=1, progress=False)
    head = None
    if model.family == "CLIP":
        head = text_head(model, imagenet_classnames(), templates("paper"), tmp_path, progress=False)
    table = predict(Scorer(model, head, CPU), dataset, cache, candidates, batch_size=5, progress=False)
    return table.to_pandas().set_index("image_id")


def reference_clip(weights, dataset):
    """open_clip's own preprocess + build_zero_shot_classifier + cosine similarity, fp32, one image at a time."""
    model, _, preprocess = open_clip.create_model_and_transforms(TINY_CLIP, pretrained=str(weights))
    model.eval()
    tokenizer = open_clip.get_tokenizer(TINY_CLIP)
    with torch.no_grad():
        classifier = open_clip.build_zero_shot_classifier(model, tokenizer, imagenet_classnames(), ["A photo of {}."])
        scores = {}
        for image in dataset.images:
            x = preprocess(Image.open(dataset.root / image.image_id)).unsqueeze(0)
            features = model.encode_image(x, normalize=True)
            scores[image.image_id] = (features @ classifier)[0].numpy()
    return scores


def test_clip_predictions_equal_open_clips_own_pipeline(tiny_clip, dataset, tmp_path):
    ours = engine_predictions(f"open_clip:{TINY_CLIP}@{tiny_clip}", dataset, tmp_path)
    reference = reference_clip(tiny_clip, dataset)
    assert set(ours.index) == set(reference)
    for image_id, scores in reference.items():
        top5 = np.argsort(-scores)[:5]
        assert ours.loc[image_id, "pred_1vs1000"] == top5[0]
        np.testing.assert_allclose(ours.loc[image_id, "top5_scores"], scores[ours.loc[image_id, "top5_ids"]], atol=1e-4)


def softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max())
    return exp / exp.sum()


def test_clip_probabilities_are_a_softmax_of_open_clips_logits_over_each_setups_candidates(
    tiny_clip, dataset, tmp_path
):
    candidates = load_candidates()
    ours = engine_predictions(f"open_clip:{TINY_CLIP}@{tiny_clip}", dataset, tmp_path, candidates)
    cosines = reference_clip(tiny_clip, dataset)
    # open_clip's logits (CLIP.forward): cosine similarity times the learned temperature, exp(logit_scale)
    scale = open_clip.create_model(TINY_CLIP, pretrained=str(tiny_clip)).logit_scale.exp().item()
    assert scale > 2  # far from 1, so leaving it out would change every probability
    for image_id, row in ours.iterrows():
        logits = scale * cosines[image_id].astype(np.float64)  # (1000,)
        probs = softmax(logits)
        top5 = np.argsort(-probs)[:5]
        assert list(row["top5_ids"]) == top5.tolist()
        np.testing.assert_allclose(row["top5_probs"], probs[top5], rtol=1e-3, atol=1e-6)
        options = np.array(candidates[row["class_id"]])  # (20,) the class's candidates, in the file's order
        probs_20 = softmax(logits[options])
        best = np.argsort(-probs_20)[:5]
        assert list(row["top5_1vs20_ids"]) == options[best].tolist()
        np.testing.assert_allclose(row["top5_1vs20_probs"], probs_20[best], rtol=1e-3, atol=1e-6)


def test_timm_predictions_equal_timms_own_transform_and_forward(tiny_timm, dataset, tmp_path):
    ours = engine_predictions(f"timm:test_resnet@{tiny_timm}", dataset, tmp_path)
    model = timm.create_model("test_resnet", pretrained=True, pretrained_cfg_overlay={"file": str(tiny_timm)}).eval()
    transform = create_transform(**resolve_data_config({}, model=model))
    with torch.no_grad():
        for image in dataset.images:
            logits = model(transform(Image.open(dataset.root / image.image_id).convert("RGB")).unsqueeze(0))[0]
            row = ours.loc[image.image_id]
            assert row["pred_1vs1000"] == int(logits.argmax())
            np.testing.assert_allclose(row["top5_scores"], logits[list(row["top5_ids"])].numpy(), atol=1e-4)


def test_rows_carry_truth_and_correctness(tiny_timm, dataset, tmp_path):
    ours = engine_predictions(f"timm:test_resnet@{tiny_timm}", dataset, tmp_path)
    assert len(ours) == len(dataset.images)
    bear = ours.loc[ours["class_id"] == 296]
    assert set(bear["split"]) == {"common", "counter"} and set(bear["background"]) == {"snow", "grass"}
    assert (ours["correct_1vs1000"] == (ours["pred_1vs1000"] == ours["class_id"])).all()
    probs = np.stack(ours["top5_probs"].to_numpy())
    assert ((probs > 0) & (probs <= 1)).all() and (np.diff(probs, axis=1) <= 1e-7).all()


def test_1_vs_20_picks_the_best_scoring_candidate_of_the_true_class(tiny_clip, dataset, tmp_path):
    candidates = load_candidates()
    ours = engine_predictions(f"open_clip:{TINY_CLIP}@{tiny_clip}", dataset, tmp_path, candidates)
    reference = reference_clip(tiny_clip, dataset)
    for image_id, row in ours.iterrows():
        options = list(candidates[row["class_id"]])
        expected = options[int(np.argmax(reference[image_id][options]))]
        assert row["pred_1vs20"] == expected
        assert row["correct_1vs20"] == (expected == row["class_id"])
        top = [int(i) for i in row["top5_1vs20_ids"]]
        assert top[0] == expected and set(top) <= set(options)
        probs = np.array(row["top5_1vs20_probs"])
        assert (np.diff(probs) <= 1e-7).all() and probs.sum() <= 1 + 1e-6  # a softmax over the 20 candidates


def test_1_vs_20_columns_are_empty_when_not_asked(tiny_timm, dataset, tmp_path):
    ours = engine_predictions(f"timm:test_resnet@{tiny_timm}", dataset, tmp_path, candidates=None)
    assert ours["pred_1vs20"].isna().all()


def test_a_class_without_candidates_is_an_error():
    with pytest.raises(UserError, match=r"no 1 vs 20 candidates for classes \[7\]"):
        candidate_matrix(np.array([9, 7]), {9: tuple(range(9, 29))})


def test_a_scorer_reusing_its_input_memory_scores_each_batch_as_a_fresh_one_would(tiny_timm):
    """Batches of different sizes, in any order, through one scorer (whose float input memory is kept from batch to
    batch) give exactly the scores of a new scorer per batch."""
    model = load_model(f"timm:test_resnet@{tiny_timm}", CPU)
    generator = torch.Generator().manual_seed(0)
    batches = [torch.randint(0, 256, (n, 32, 32, 3), dtype=torch.uint8, generator=generator) for n in (5, 2, 5, 3)]
    reused = Scorer(model, None, CPU)
    inputs = []  # what the network is given: ToTensor + Normalize's arithmetic, element for element
    model.network.register_forward_pre_hook(lambda module, args: inputs.append(args[0].clone()))
    mean, std = torch.tensor(model.recipe.mean), torch.tensor(model.recipe.std)
    for pixels in batches:
        assert torch.equal(reused(pixels), Scorer(model, None, CPU)(pixels))
        expected = pixels.float().div(255).sub(mean).div(std).permute(0, 3, 1, 2)
        assert all(torch.equal(given, expected) for given in inputs[-2:])


def evaluate_streaming(dataset_dir, tmp_path, clip_spec, hold: str):
    """Evaluate on a cold cache, holding the decoding of photo `hold` until a batch is scored (or 60 s pass): (the
    outcome, whether scoring had started while that photo was not yet decoded)."""
    import threading

    from engine.inference import image_cache
    from engine.inference.evaluator import EvalOptions, Evaluator

    scored, early = threading.Event(), []
    decode_into_cache = image_cache._decode_into_cache

    def held(task, **decoding):
        if task[1] == hold:
            early.append(scored.wait(timeout=60))
        return decode_into_cache(task, **decoding)

    def on_progress(stage, done, total):
        if stage == "scoring photos" and done > 0:
            scored.set()

    options = EvalOptions(tmp_path / "results", tmp_path / "cache", CPU, workers=1, batch_size=5, progress=False,
                          on_progress=on_progress)  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(image_cache, "_decode_into_cache", held)
        outcome = Evaluator(load_dataset(dataset_dir), options).evaluate(clip_spec)
    return outcome, early == [True]


def warm_cache_run(dataset_dir, tmp_path, clip_spec):
    """The same evaluation on the cache the cold one built: scored after the cache is complete."""
    from engine.inference.evaluator import EvalOptions, Evaluator

    options = EvalOptions(tmp_path / "warm", tmp_path / "cache", CPU, workers=1, batch_size=5, progress=False)
    return Evaluator(load_dataset(dataset_dir), options).evaluate(clip_spec)


def same_run_bytes(one, other) -> bool:
    return (
        one.run_id == other.run_id
        and not other.skipped
        and (one.path / "predictions.parquet").read_bytes() == (other.path / "predictions.parquet").read_bytes()
    )


def test_a_cold_cache_is_scored_while_it_is_decoded_into_the_same_bytes(dataset_dir, tmp_path, tiny_clip):
    spec = f"open_clip:{TINY_CLIP}@{tiny_clip}"
    last = load_dataset(dataset_dir).images[-1].image_id
    streamed, early = evaluate_streaming(dataset_dir, tmp_path, spec, hold=last)
    assert early  # a batch was scored while the last photo was still to be decoded
    assert same_run_bytes(streamed, warm_cache_run(dataset_dir, tmp_path, spec))


def test_an_unreadable_photo_found_while_scoring_gives_the_finished_caches_bytes(
    dataset_dir, tmp_path, tiny_clip, monkeypatch
):
    import shutil

    from engine.inference import evaluator

    monkeypatch.setattr(evaluator, "MAX_UNREADABLE_SHARE", 0.5)
    copy = shutil.copytree(dataset_dir, tmp_path / "data")
    broken = load_dataset(copy).images[12].image_id  # mid-way: the batches after it shift by one photo
    (copy / broken).write_bytes((copy / broken).read_bytes()[:300])
    spec = f"open_clip:{TINY_CLIP}@{tiny_clip}"
    streamed, early = evaluate_streaming(copy, tmp_path, spec, hold=broken)
    assert early  # scoring had begun when the photo turned out unreadable
    assert same_run_bytes(streamed, warm_cache_run(copy, tmp_path, spec))
    assert json.loads((streamed.path / "run.json").read_text())["images"]["evaluated"] == 23
