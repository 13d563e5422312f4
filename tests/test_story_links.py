"""Story steps from a link (`?story=KEY&step=K`), the same view from any step before, and the user's run ringed."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from app import stories
from tests.conftest import open_link
from tests.test_app import figures

(PAPER_STORY,) = stories.load_stories(Path("/nonexistent"))
KEY = PAPER_STORY.key  # "the-paper-in-four-views-then-your-model"


def choices(at: AppTest) -> dict[str, object]:
    """Every keyed choice on the page, by key."""
    widgets = [*at.radio, *at.selectbox, *at.multiselect, *at.toggle]
    return {w.key: w.value for w in widgets if w.key}


def notices(at: AppTest) -> str:
    return " ".join(t.proto.body for t in at.toast)


def step_label(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown if m.value.startswith("**Step"))


def test_the_story_key_is_its_name_in_words():
    assert KEY == "the-paper-in-four-views-then-your-model"


def test_a_link_opens_the_story_step_with_its_page_and_choices(paper_copy, results_dir):
    at = open_link(story=KEY, step="3")
    assert at.selectbox(key="scaling_backbone").value == "ViT/L/14"  # step 3 is on the Scaling page
    assert at.selectbox(key="story").value == PAPER_STORY.name
    assert "Step 3 of 5" in step_label(at)
    assert at.query_params["story"] == KEY and at.query_params["step"] == "3"  # copied now, it reopens step 3


def test_the_url_says_which_step_is_shown_while_stepping(paper_copy, results_dir):
    at = open_link()
    assert "story" not in at.query_params
    at.selectbox(key="story").set_value(PAPER_STORY.name).run()
    at.button(key="story_next").click().run()
    at.button(key="story_next").click().run()
    assert at.query_params["step"] == "2" and at.query_params["overview_scale"] == "logit"
    reopened = open_link(**{name: at.query_params[name] for name in at.query_params})
    assert choices(reopened) == choices(at) and "Step 2 of 5" in step_label(reopened)


def test_stepping_to_a_step_and_opening_it_directly_show_the_same_choices(paper_copy, results_dir):
    at = open_link()
    at.selectbox(key="story").set_value(PAPER_STORY.name).run()
    at.button(key="story_next").click().run()
    at.multiselect(key="overview_family").set_value(["CLIP"]).run()  # a filter chosen on step 1
    at.toggle(key="overview_fit_stats").set_value(True).run()
    at.button(key="story_next").click().run()
    assert at.multiselect(key="overview_family").value == []  # step 2 does not set it: back to its default
    assert choices(at) == choices(open_link(story=KEY, step="2"))
    at.button(key="story_next").click().run()
    assert choices(at) == choices(open_link(story=KEY, step="3"))


def test_a_filter_one_step_sets_does_not_leak_into_the_next(paper_copy, results_dir):
    (results_dir / "stories.toml").write_text(
        '[[story]]\nname = "Lab meeting"\n'
        '[[story.step]]\ntitle = "CLIPs only"\npage = ""\nparams = { overview_family = "CLIP" }\n'
        '[[story.step]]\ntitle = "All, in logit"\npage = ""\nparams = { overview_scale = "logit" }\n'
    )
    at = open_link(story="lab-meeting", step="1")
    assert at.multiselect(key="overview_family").value == ["CLIP"]
    at.button(key="story_next").click().run()
    assert at.multiselect(key="overview_family").value == []
    assert choices(at) == choices(open_link(story="lab-meeting", step="2"))


def test_an_unknown_story_gives_a_notice_and_the_page_as_usual(paper_copy, results_dir):
    at = open_link(story="nosuchstory", step="1", overview_scale="logit")
    assert "story=nosuchstory" in notices(at)
    assert at.selectbox(key="story").value == "(none)" and at.radio(key="overview_scale").value == "logit"
    assert "story" not in at.query_params


def test_a_step_out_of_range_gives_a_notice_and_the_page_as_usual(paper_copy, results_dir):
    for number in ("0", "6", "two"):  # without runs the story shows 5 steps
        at = open_link(story=KEY, step=number)
        assert f"step={number}" in notices(at)
        assert at.radio(key="overview_scale").value == "linear" and not step_label(at)
        assert "step" not in at.query_params


def test_a_your_model_step_rings_the_latest_run(with_runs):
    at = open_link(story=KEY, step="5")
    latest = sorted(path.name for path in (with_runs / "runs").iterdir())
    assert at.session_state["overview_run"] in latest
    (figure,) = figures(at)
    assert any(trace.name.startswith("highlighted") for trace in figure.data)
    assert at.query_params["overview_run"] == at.session_state["overview_run"]


def test_a_step_before_the_your_model_step_takes_the_ring_away(with_runs):
    at = open_link(story=KEY, step="5")
    for _ in range(3):  # steps 4 (Classes), 3 (Scaling), then 2: the Overview again
        at.button(key="story_back").click().run()
    assert "Step 2 of 8" in step_label(at)
    (figure,) = figures(at)
    assert not any((trace.name or "").startswith("highlighted") for trace in figure.data)
