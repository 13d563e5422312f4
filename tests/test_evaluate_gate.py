"""The Evaluate page's gate: a dashboard others can reach evaluates nothing without the operator's token; a local one
asks for nothing; browsing is always open."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from app import job_client
from app.widgets import evaluate_gate
from app.widgets.chart import drawn_figures
from engine import cli, config, jobs
from tests.conftest import APP_MAIN, SHARED_TOKEN
from tests.test_app import open_page

ARCHITECTURES = {"open_clip": ["ViT-B-32"], "timm": ["test_resnet"], "torchvision": ["resnet50"]}


@pytest.fixture
def app(paper_copy, results_dir, cache_dir, monkeypatch) -> AppTest:
    """The dashboard as `serve --host 127.0.0.1` starts it; a test marks it shared. The installed architectures are
    a short fixed list (asking the engine takes seconds)."""
    monkeypatch.setenv(config.SHARED_ENV, "0")
    monkeypatch.delenv(config.EVALUATE_TOKEN_ENV, raising=False)
    monkeypatch.setattr(job_client, "architectures", lambda: ARCHITECTURES)
    return AppTest.from_file(APP_MAIN, default_timeout=60)


@pytest.fixture
def shared(monkeypatch) -> None:
    monkeypatch.setenv(config.SHARED_ENV, "1")


@pytest.fixture
def cancelled_job(results_dir) -> jobs.Job:
    """A job in the list whose card, on an open page, offers Retry."""
    job = jobs.submit(results_dir, {"model": "timm:test_resnet@/w.pt", "data": "/data", "setups": ["1vs1000"]})
    jobs.cancel(results_dir, job.id)
    return job


def page_keys(widgets) -> list[str]:
    """The keys of the Evaluate page's own widgets (the form's, the token's, the job cards')."""
    return [w.key for w in widgets if w.key and w.key.startswith(("evaluate_", "job_"))]


def serve_env(monkeypatch, host: str) -> dict[str, str]:
    calls = []
    monkeypatch.setattr(cli.os, "execve", lambda path, command, env: calls.append(env))
    cli.main(["serve", "--host", host])
    return calls[0]


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_addresses_are_local(host):
    assert config.is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "192.168.1.20", "lab-server"])
def test_other_addresses_and_host_names_are_shared(host):
    assert not config.is_loopback(host)


def test_serve_marks_a_dashboard_on_the_network_shared(monkeypatch):
    monkeypatch.delenv(config.SHARED_ENV, raising=False)
    assert serve_env(monkeypatch, "0.0.0.0")[config.SHARED_ENV] == "1"
    assert serve_env(monkeypatch, "127.0.0.1")[config.SHARED_ENV] == "0"


def test_a_loopback_dashboard_can_be_marked_shared_but_a_network_one_not_local(monkeypatch):
    monkeypatch.setenv(config.SHARED_ENV, "1")  # e.g. behind a reverse proxy on this machine
    assert serve_env(monkeypatch, "127.0.0.1")[config.SHARED_ENV] == "1"
    monkeypatch.setenv(config.SHARED_ENV, "0")
    assert serve_env(monkeypatch, "0.0.0.0")[config.SHARED_ENV] == "1"


def test_serve_says_how_to_turn_evaluation_on_when_shared(monkeypatch, capsys):
    serve_env(monkeypatch, "0.0.0.0")
    assert cli.SHARED_OFF in capsys.readouterr().out


def test_the_token_matches_only_itself_and_an_empty_token_nothing():
    assert evaluate_gate.token_matches(" s3cret ", "s3cret")  # pasted with a space
    assert not evaluate_gate.token_matches("s3cre", "s3cret")
    assert not evaluate_gate.token_matches("sécret", "s3cret")  # any text, not only ASCII
    assert not evaluate_gate.token_matches("", "")


def test_a_local_dashboard_evaluates_without_a_token(app, cancelled_job):
    open_page(app, "evaluate")
    assert app.button(key="job_submit") and app.radio(key="evaluate_kind")
    assert app.button(key=f"job_retry_{cancelled_job.id}")
    assert "evaluate_token" not in page_keys(app.text_input)


def test_a_shared_dashboard_without_a_token_turns_evaluation_off_and_says_how_to_turn_it_on(app, shared, cancelled_job):
    open_page(app, "evaluate")
    assert "Evaluation is off on this shared dashboard" in app.info[0].value
    assert config.EVALUATE_TOKEN_ENV in app.info[0].value and "restart" in app.info[0].value
    assert not app.get("file_uploader") and not page_keys(app.text_input) and not page_keys(app.radio)  # no form
    assert not page_keys(app.button)  # no Check and evaluate, no Cancel or Retry on a job's card


def test_a_shared_dashboard_keeps_the_other_pages_open(app, shared):
    open_page(app)
    assert drawn_figures(app)  # the Overview's chart


def test_a_shared_dashboard_with_a_token_unlocks_evaluation_for_the_right_token_only(app, shared, monkeypatch):
    monkeypatch.setenv(config.EVALUATE_TOKEN_ENV, SHARED_TOKEN)
    open_page(app, "evaluate")
    token = app.text_input(key="evaluate_token")
    assert token.proto.type == token.proto.PASSWORD
    assert "job_submit" not in page_keys(app.button)

    token.input("guess").run()
    assert "not this dashboard's evaluation token" in app.error[0].value
    assert "job_submit" not in page_keys(app.button)

    app.text_input(key="evaluate_token").input(SHARED_TOKEN).run()
    assert not app.exception, app.exception
    assert app.button(key="job_submit") and "evaluate_token" not in page_keys(app.text_input)
    open_page(app)  # another page and back: this session stays unlocked
    open_page(app, "evaluate")
    assert app.button(key="job_submit")


@pytest.mark.browser
def test_a_shared_server_locks_evaluate_until_the_token_and_leaves_the_overview_open(shared_server_url, page):
    page.goto(f"{shared_server_url}/evaluate")
    page.get_by_text("evaluating a model needs the token").wait_for(timeout=60_000)
    assert page.get_by_role("button", name="Check and evaluate").count() == 0
    token = page.get_by_label("Evaluation token")
    token.fill("guess")
    token.press("Enter")
    page.get_by_text("not this dashboard's evaluation token").wait_for(timeout=30_000)
    page.get_by_label("Evaluation token").fill(SHARED_TOKEN)
    page.get_by_label("Evaluation token").press("Enter")
    page.get_by_role("button", name="Check and evaluate").wait_for(timeout=60_000)

    page.get_by_role("link", name="Overview").click()  # browsing needs no token
    page.wait_for_selector(".js-plotly-plot", timeout=60_000)
