"""Story presets and the presenter view."""

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app import stories, url_state
from app.queries import Sources, model_scores
from tests.conftest import APP_MAIN, PAPER

# Words by which a headline compares groups of models; such a headline needs claims the data can check.
DIRECTION = re.compile(r"\b(more|less|fewer|above|below|higher|lower|better|worse|than|beats?|outperforms?)\b", re.I)


def published(setup: str = "1vs1000", variant: str = "default"):
    return model_scores(Sources(paper=PAPER, results=Path("/nonexistent"), fingerprint=()), setup, variant)


def test_built_in_story_steps_use_known_link_parameters():
    (story,) = stories.load_stories(Path("/nonexistent"))
    for step in story.steps:
        assert step.page in url_state.PAGE_KEYS
        for key, text in step.params.items():
            assert key in url_state.page_keys(step.page), (step.title, key)
            url_state.KEYS[key][1](text.replace(stories.LATEST_RUN, "r1"))  # parses


def test_every_headline_that_states_a_direction_has_claims_the_published_numbers_bear_out():
    for story in stories.load_stories(Path("/nonexistent")):
        for step in story.steps:
            if DIRECTION.search(step.title):
                assert step.claims, f"{step.title!r} states a direction without a claim"
            models = published(step.params.get("setup", "1vs1000"), step.params.get("variant", "default"))
            for claim in step.claims:
                assert stories.check_claim(models, claim), (step.title, claim)


def test_curated_clips_drop_less_but_do_not_sit_above_the_clip_trend():
    models = published()
    assert stories.check_claim(models, stories.Claim("drop", higher="other CLIP", lower="curated CLIP"))
    above = stories.Claim("effective_robustness", higher="curated CLIP", lower="other CLIP")
    assert not stories.check_claim(models, above)  # the old headline: false in logit and probit scale
    curated = models[(models["family"] == "CLIP") & models["high_quality_data"]]
    assert round(curated["drop"].mean(), 2) == 13.43 and len(curated) == 8


def test_a_claim_with_an_unknown_group_or_two_forms_is_refused():
    with pytest.raises(ValueError, match="groups"):
        stories.check_claim(published(), stories.Claim("drop", higher="CLIP", lower="LAION"))
    with pytest.raises(ValueError, match="groups"):
        stories.check_claim(published(), stories.Claim("drop", higher="CLIP", lower="ImageNet", group="CLIP"))


def test_steps_that_need_a_run_are_left_out_without_one_and_filled_in_with_one():
    (story,) = stories.load_stories(Path("/nonexistent"))
    without = stories.playable(story, None)
    with_run = stories.playable(story, "abc123")
    assert len(without) == 5 and len(with_run) == 8  # the theory step needs no run
    assert next(s for s in with_run if s.page == "gallery").params["gallery_run"] == "abc123"


def test_a_groups_own_stories_come_from_the_results_folder(tmp_path):
    (tmp_path / "stories.toml").write_text(
        '[[story]]\nname = "Lab meeting"\n[[story.step]]\ntitle = "Ours"\npage = "scaling"\n'
        'params = { scaling_backbone = "ViT/B/16" }\n'
    )
    names = [s.name for s in stories.load_stories(tmp_path)]
    assert names[-1] == "Lab meeting" and len(names) == 2


def test_next_steps_through_the_story_views(paper_copy, results_dir):
    at = AppTest.from_file(APP_MAIN, default_timeout=60)
    at.run()
    at.selectbox(key="story").set_value("The paper in four views, then your model").run()
    at.button(key="story_next").click().run()
    assert at.radio(key="overview_scale").value == "linear"
    at.button(key="story_next").click().run()
    assert not at.exception
    assert at.radio(key="overview_scale").value == "logit" and at.toggle(key="overview_split_hq").value is False
    assert "Step 2 of 5" in " ".join(m.value for m in at.markdown)
    at.button(key="story_next").click().run()
    assert at.selectbox(key="scaling_backbone").value == "ViT/L/14"  # step 3 is on the Scaling page
    at.button(key="story_back").click().run()
    assert at.radio(key="overview_scale").value == "logit"


def test_presenter_view_hides_controls_and_can_be_left(paper_copy, results_dir):
    at = AppTest.from_file(APP_MAIN, default_timeout=60)
    at.run()
    at.toggle(key="present").set_value(True).run()
    assert any("stSidebar" in m.value for m in at.markdown)  # the presenter style sheet
    at.button(key="present_exit").click().run()
    assert at.toggle(key="present").value is False
    assert not any("stSidebar" in m.value for m in at.markdown)
