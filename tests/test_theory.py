"""The theory lab (engine/theory, the Theory page): the synthetic world, the two learners and their hand-written
gradients, the theorem's claims on the default world, the charts, and the page with its link."""

from dataclasses import replace

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app import stories
from app.charts.theory import accuracy_range, theory_drop_curve, theory_scatter
from engine import theory
from engine.theory import contrastive, supervised
from engine.theory.world import VOCABULARY, evaluation_splits, training_split
from tests.conftest import APP_MAIN, PAPER, open_link
from tests.test_app import figures, open_export_menu

WORLD = theory.WorldConfig()  # the page's default world: p = 0.9, q = 0.5, object noise 0.6, background noise 0.3


def by_learner(scores: list[theory.Score]) -> dict[str, theory.Score]:
    return {score.learner: score for score in scores}


@pytest.fixture(scope="module")
def sweep() -> dict[float, dict[str, theory.Score]]:
    """The default world's sweep over p (about a second): p -> learner -> score."""
    scores = theory.sweep_p(WORLD)
    return {p: by_learner([s for s in scores if s.p == p]) for p in theory.P_GRID}


@pytest.fixture(scope="module")
def over_q() -> dict[float, dict[str, theory.Score]]:
    """At p = 0.95, the default world with captions naming the background never, half the time, and 90% of it."""
    return {q: by_learner(theory.run_world(replace(WORLD, p=0.95, q=q))) for q in (0.0, 0.5, 0.9)}


# ---- the theorem's claims on the default world -------------------------------------------------------------------


def test_without_spurious_correlation_neither_learner_drops(sweep):
    for score in sweep[0.5].values():
        assert abs(score.drop) < 2, score


def test_a_strong_spurious_correlation_makes_both_learners_drop(sweep):
    for score in sweep[0.95].values():
        assert score.drop > 10, score
        assert score.common > 95  # they still learn the objects: the drop is the background's doing


def test_the_drop_grows_with_p_for_both_learners(sweep):
    for learner in theory.LEARNERS:
        drops = [sweep[p][learner].drop for p in theory.P_GRID]
        assert np.all(np.diff(drops) > 0), (learner, drops)


def test_the_contrastive_drop_grows_with_q(over_q):
    drops = [over_q[q][theory.CLIP].drop for q in (0.0, 0.5, 0.9)]
    assert np.all(np.diff(drops) > 0), drops


def test_captions_do_not_touch_the_supervised_learner(over_q):
    assert over_q[0.0][theory.ERM] == over_q[0.9][theory.ERM]  # it never reads a caption


def test_the_same_seed_gives_identical_results_and_another_seed_does_not():
    small = replace(WORLD, n_train=250)
    assert theory.run_world(small) == theory.run_world(small)
    assert theory.run_world(small) != theory.run_world(replace(small, seed=1))


# ---- the world -----------------------------------------------------------------------------------------------------


def test_training_backgrounds_agree_with_p_and_captions_name_them_with_q():
    train = training_split(replace(WORLD, p=0.8, q=0.3, n_train=2000))
    agree = np.mean(train.backgrounds == train.objects)
    assert abs(agree - 0.8) < 3 * np.sqrt(0.8 * 0.2 / 2000)
    assert abs(np.mean(train.names_background) - 0.3) < 3 * np.sqrt(0.3 * 0.7 / 2000)
    words = train.captions()
    assert np.all(words[:, :2].sum(axis=1) == 1)  # every caption names its object, once
    assert np.array_equal(words[:, 2:].sum(axis=1), train.names_background)


def test_another_p_changes_only_which_backgrounds_are_usual():
    low, high = training_split(replace(WORLD, p=0.5)), training_split(replace(WORLD, p=0.99))
    objects_and_noise = slice(None, WORLD.object_dims)
    assert np.array_equal(low.images[:, objects_and_noise], high.images[:, objects_and_noise])
    assert np.array_equal(low.objects, high.objects) and not np.array_equal(low.backgrounds, high.backgrounds)


def test_the_counter_set_is_the_common_set_with_each_background_swapped():
    common, counter = evaluation_splits(WORLD)
    assert np.array_equal(common.backgrounds, common.objects) and np.array_equal(
        counter.backgrounds, 1 - common.objects
    )
    background = slice(WORLD.object_dims, WORLD.object_dims + WORLD.background_dims)
    outside = np.ones(common.images.shape[1], dtype=bool)
    outside[background] = False
    assert np.array_equal(common.images[:, outside], counter.images[:, outside])
    # The background's signal flips sign (+-1/sqrt(dims) per dimension), its noise stays.
    shift = (counter.images - common.images)[:, background]
    expected = 2 * (1 - 2 * common.objects[:, None]) / np.sqrt(WORLD.background_dims)
    assert np.allclose(shift, np.broadcast_to(expected, shift.shape))


# ---- the learners' hand-written gradients --------------------------------------------------------------------------


def numeric_gradient(loss_and_grads, params, name, index, step=1e-6) -> float:
    up = {k: v.copy() for k, v in params.items()}
    down = {k: v.copy() for k, v in params.items()}
    up[name][index] += step
    down[name][index] -= step
    return (loss_and_grads(up)[0] - loss_and_grads(down)[0]) / (2 * step)


def test_the_contrastive_gradients_match_finite_differences():
    train = training_split(replace(WORLD, n_train=200))
    loss_and_grads = contrastive._loss_and_grads(train.images, train.captions())
    rng = np.random.default_rng(7)
    params = {"image": rng.standard_normal((4, train.images.shape[1])), "text": rng.standard_normal((4, 4))}
    _, grads = loss_and_grads(params)
    for name, index in [("image", (0, 0)), ("image", (2, 9)), ("text", (1, 2)), ("text", (3, 0))]:
        assert numeric_gradient(loss_and_grads, params, name, index) == pytest.approx(grads[name][index], rel=1e-5)


def test_the_contrastive_loss_over_distinct_captions_is_the_full_batch_infonce():
    train = training_split(replace(WORLD, n_train=200))
    loss_and_grads = contrastive._loss_and_grads(train.images, train.captions())
    rng = np.random.default_rng(7)
    params = {"image": rng.standard_normal((4, train.images.shape[1])), "text": rng.standard_normal((4, 4))}
    images = train.images @ params["image"].T
    texts = train.captions() @ params["text"].T
    images /= np.linalg.norm(images, axis=1, keepdims=True)
    texts /= np.linalg.norm(texts, axis=1, keepdims=True)
    logits = images @ texts.T / contrastive.TEMPERATURE  # (n, n): every pair of the batch

    def cross_entropy(rows):
        return np.mean(np.log(np.exp(rows).sum(axis=1)) - np.diag(rows))

    assert loss_and_grads(params)[0] == pytest.approx((cross_entropy(logits) + cross_entropy(logits.T)) / 2)


def test_the_supervised_gradients_match_finite_differences():
    train = training_split(replace(WORLD, n_train=200))
    loss_and_grads = supervised._loss_and_grads(train.images, train.objects.astype(float))
    params = {"w": np.random.default_rng(7).standard_normal(train.images.shape[1]), "b": np.array([0.3])}
    _, grads = loss_and_grads(params)
    for name, index in [("w", 0), ("w", 5), ("b", 0)]:
        assert numeric_gradient(loss_and_grads, params, name, index) == pytest.approx(grads[name][index], rel=1e-5)


def test_zero_shot_prompts_name_only_the_object():
    params = {"image": np.eye(4, 16), "text": np.eye(4)}  # embedding = the first four image dimensions / the words
    images = np.zeros((2, 16))
    images[0, 0] = images[1, 1] = 1.0
    assert list(contrastive.predict_zero_shot(params, images)) == [0, 1] and VOCABULARY[0] == "object 0"


# ---- tables and charts ---------------------------------------------------------------------------------------------


def test_the_sweep_table_has_a_row_per_p_and_learner_and_the_world_settings():
    table = theory.sweep_table(replace(WORLD, n_train=250), ps=(0.5, 0.9))
    assert len(table) == 4 and set(table["learner"]) == set(theory.LEARNERS)
    assert np.allclose(table["drop"], table["common"] - table["counter"])
    assert set(table["q"]) == {WORLD.q} and set(table["n_train"]) == {250}


def test_coloredcoco_is_read_with_its_trainings_in_words(tmp_path):
    table = theory.read_coloredcoco(PAPER)
    assert len(table) == 8 and set(table["source"]) == {"Table 7"}
    assert "captions name object and background" in " ".join(table["training"])
    assert theory.read_coloredcoco(tmp_path).empty
    assert theory.coloredcoco_drops(table).startswith("zero-shot (not trained on ColoredCOCO): 1.3–1.9 points")
    assert "CLIP objective: 76.9–95.4 points; supervised: 89.1–93.5 points" in theory.coloredcoco_drops(table)


def test_the_scatter_has_y_equals_x_and_each_learner_at_the_chosen_p():
    table = theory.sweep_table(replace(WORLD, n_train=250), ps=(0.5, 0.9))
    fig = theory_scatter(table, 0.9, "t")
    assert fig.data[0].name.startswith("y = x") and list(fig.data[0].x) == list(fig.data[0].y)
    chosen = [t for t in fig.data if (t.meta or {}).get("chosen_p") == 0.9]
    assert len(chosen) == 2 and list(fig.layout.xaxis.range) == list(fig.layout.yaxis.range)
    lo, hi = accuracy_range(table)
    assert lo < table[["common", "counter"]].min().min() and hi > table[["common", "counter"]].max().max()


def test_the_drop_curve_has_a_curve_per_learner_over_p():
    table = theory.sweep_table(replace(WORLD, n_train=250), ps=(0.5, 0.7, 0.9))
    fig = theory_drop_curve(table, 0.7, "t")
    assert {t.name for t in fig.data} == set(theory.LEARNERS)
    assert all(list(t.x) == [0.5, 0.7, 0.9] for t in fig.data)


# ---- the page ------------------------------------------------------------------------------------------------------


def open_theory(**query: str) -> AppTest:
    """A fresh session opening the Theory page at a link with these query parameters."""
    at = AppTest.from_file(APP_MAIN, default_timeout=60)
    at.switch_page("app_pages/theory.py")
    for name, value in query.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception, at.exception
    return at


def chosen_points(at) -> dict[str, tuple[float, float]]:
    """The learners' large markers on the page's scatter: name -> (common, counter)."""
    scatter = figures(at)[0]
    return {t.legendgroup: (t.x[0], t.y[0]) for t in scatter.data if (t.meta or {}).get("chosen_p") is not None}


def test_the_page_draws_both_charts_and_the_coloredcoco_table(paper_copy, results_dir):
    at = open_theory()
    assert at.title[0].value.startswith("Theory lab")
    assert len(figures(at)) == 2 and set(chosen_points(at)) == set(theory.LEARNERS)
    assert len(at.dataframe[0].value) == 8 and "Table 7" in " ".join(c.value for c in at.caption)
    assert list(at.dataframe[0].proto.column_order)[-1] == "training"  # the numbers first: the column is narrow
    open_export_menu(at, "theory")
    assert "Export this page (zip)" in [b.proto.label for b in at.get("download_button")]


def test_moving_the_q_slider_moves_the_contrastive_learner_only(paper_copy, results_dir):
    at = open_theory()
    before = chosen_points(at)
    at.select_slider(key="theory_q").set_value(0.0).run()
    after = chosen_points(at)
    assert after[theory.CLIP] != before[theory.CLIP] and after[theory.ERM] == before[theory.ERM]
    at.select_slider(key="theory_p").set_value(0.5).run()
    assert abs(np.subtract(*chosen_points(at)[theory.ERM])) < 2  # common ~ counter without a spurious correlation


def test_a_theory_link_round_trips(paper_copy, results_dir):
    link = {"theory_p": "0.95", "theory_q": "0.2", "theory_n_train": "500", "theory_seed": "3"}
    at = open_theory(**link)
    at.select_slider(key="theory_object_noise").set_value(0.8).run()
    shared = {name: at.query_params[name] for name in at.query_params}
    assert shared["theory_object_noise"] == "0.8" and all(shared[k] == v for k, v in link.items())
    reopened = open_theory(**shared)
    assert reopened.select_slider(key="theory_q").value == 0.2 and reopened.selectbox(key="theory_seed").value == 3
    assert chosen_points(reopened) == chosen_points(at)


def test_a_link_value_that_is_not_a_choice_gives_a_notice_and_the_default(paper_copy, results_dir):
    at = open_theory(theory_p="0.55", theory_seed="99")
    assert at.select_slider(key="theory_p").value == WORLD.p and at.selectbox(key="theory_seed").value == WORLD.seed
    notices = " ".join(t.proto.body for t in at.toast)
    assert "theory_p=0.55" in notices and "theory_seed=99" in notices


def test_the_papers_story_ends_on_the_theory_page_at_a_strong_correlation(paper_copy, results_dir):
    (story,) = stories.load_stories(results_dir)
    at = open_link(story=story.key, step="5")  # without runs: the four views, then the theory
    assert at.select_slider(key="theory_p").value == 0.95 and at.select_slider(key="theory_q").value == 0.5
    assert len(figures(at)) == 2
