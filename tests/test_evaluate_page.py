"""The Evaluate page with AppTest: checks before queueing, the job list, and the Overview's highlighted run."""

from __future__ import annotations

import gc
import io
import shutil
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from app import job_client
from engine import jobs
from tests.conftest import APP_MAIN
from tests.test_app import figures, open_page
from tests.test_jobs import CreatesFile, claimed, wait_finished


@pytest.fixture
def weights_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "weights"
    folder.mkdir()
    return folder


@pytest.fixture
def app(paper_copy, results_dir, cache_dir, dataset_dir, weights_dir, monkeypatch) -> AppTest:
    monkeypatch.setenv("COUNTERANIMAL_DATA", str(dataset_dir))
    monkeypatch.setenv("COUNTERANIMAL_ALLOWED_ROOTS", str(weights_dir))
    return AppTest.from_file(APP_MAIN, default_timeout=120)


def fill(
    app: AppTest, path: Path, kind: str = "timm model", arch: str = "test_resnet", name: str = "", data: str = ""
) -> AppTest:
    open_page(app, "evaluate")
    app.radio(key="evaluate_kind").set_value(kind).run()
    if job_client.KINDS[kind] not in job_client.FOLDER_KINDS:  # a folder names its own architecture
        app.selectbox(key=f"evaluate_arch_{job_client.KINDS[kind]}").set_value(arch)
    app.radio(key="evaluate_source").set_value("Path on the server").run()
    app.text_input(key="evaluate_path").set_value(str(path))
    app.text_input(key="evaluate_name").set_value(name)
    if data:
        app.text_input(key="evaluate_data").set_value(data)
    app.button(key="job_submit").click().run()
    assert not app.exception, app.exception
    return app


def upload(app: AppTest, filename: str, content: bytes) -> AppTest:
    """Upload a weight file for timm's test_resnet and submit it."""
    open_page(app, "evaluate")
    app.radio(key="evaluate_kind").set_value("timm model").run()
    app.selectbox(key="evaluate_arch_timm").set_value("test_resnet")
    app.radio(key="evaluate_source").set_value("Upload").run()
    app.file_uploader(key="upload_weights_0").set_value((filename, content, "application/octet-stream"))
    app.button(key="job_submit").click().run()
    assert not app.exception, app.exception
    return app


def stored_uploads(results: Path) -> list[str]:
    folder = results / "uploads"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


@pytest.fixture
def no_worker(monkeypatch) -> list[Path]:
    """Jobs stay as the test made them: starting a worker only records the request."""
    started: list[Path] = []
    monkeypatch.setattr(jobs, "ensure_worker", lambda results: started.append(results) or False)
    return started


def errors(app: AppTest) -> str:
    return " ".join(e.value for e in app.error)


def test_the_page_offers_the_installed_architectures(app):
    open_page(app, "evaluate")
    app.radio(key="evaluate_kind").set_value("timm model").run()
    assert "test_resnet" in app.selectbox(key="evaluate_arch_timm").options
    assert app.radio(key="evaluate_kind").value == "timm model"
    app.radio(key="evaluate_kind").set_value("open_clip folder (hub format)").run()
    assert app.radio(key="evaluate_source").options == ["Path on the server"]  # a folder cannot be uploaded


def test_a_visitor_does_not_wait_for_a_starved_background_listing(monkeypatch, tmp_path):
    """A served dashboard lists the architectures at idle priority when it starts; while jobs keep the CPUs busy that
    listing can starve, so the page waits for it briefly and then lists them itself."""
    import threading
    import time

    monkeypatch.setenv("COUNTERANIMAL_CACHE", str(tmp_path))
    monkeypatch.setattr(job_client, "served", lambda: True)
    starved = threading.Thread(target=time.sleep, args=(300,), daemon=True)  # never done while the page waits
    starved.start()
    monkeypatch.setattr(job_client, "_list_in_background", lambda folder: starved)
    job_client.architectures.clear()
    start = time.monotonic()
    try:
        assert "test_resnet" in job_client.architectures()["timm"]
    finally:
        job_client.architectures.clear()
    assert time.monotonic() - start < 200  # listed here, not after the starved listing


def test_weights_for_another_architecture_are_explained_and_queue_nothing(app, weights_dir, results_dir):
    import timm

    torch.save(timm.create_model("test_vit").state_dict(), weights_dir / "vit.pt")
    fill(app, weights_dir / "vit.pt")
    assert "does not fit the test_resnet architecture: none of its tensor names" in errors(app)
    assert jobs.list_jobs(results_dir) == []


def test_a_malicious_pickle_is_refused_and_never_runs(app, weights_dir, results_dir, tmp_path):
    torch.save({"conv1.weight": CreatesFile(tmp_path / "pwned.txt")}, weights_dir / "evil.pt")
    fill(app, weights_dir / "evil.pt")
    assert "refused: besides tensors it contains Python objects that would run code" in errors(app)
    assert not (tmp_path / "pwned.txt").exists()
    assert jobs.list_jobs(results_dir) == []


def test_a_path_outside_the_allowed_roots_is_refused(app, tiny_timm, results_dir):
    fill(app, tiny_timm)  # the session's fixture folder, not under the allowed weights folder
    assert "is outside the folders this dashboard may read" in errors(app)
    assert jobs.list_jobs(results_dir) == []


def test_a_dataset_outside_the_allowed_roots_is_refused(
    app, weights_dir, tiny_timm, dataset_dir, results_dir, tmp_path
):
    (weights_dir / "mine.safetensors").write_bytes(tiny_timm.read_bytes())
    elsewhere = shutil.copytree(dataset_dir, tmp_path / "elsewhere")  # a real dataset, just not an allowed one
    fill(app, weights_dir / "mine.safetensors", data=str(elsewhere))
    assert f"{elsewhere} is outside the folders this dashboard may read" in errors(app)
    assert jobs.list_jobs(results_dir) == []


def test_an_uploaded_pickle_that_would_run_code_is_refused_never_runs_and_is_removed(
    app, results_dir, tmp_path, monkeypatch
):
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")  # only an explicit weights_only=True still protects
    evil = io.BytesIO()
    torch.save({"conv1.weight": CreatesFile(tmp_path / "pwned.txt")}, evil)
    upload(app, "evil.pt", evil.getvalue())
    assert "refused: besides tensors it contains Python objects that would run code" in errors(app)
    assert not (tmp_path / "pwned.txt").exists()
    assert stored_uploads(results_dir) == []
    assert jobs.list_jobs(results_dir) == []


def test_an_upload_of_another_type_is_refused_in_words_not_by_the_browser(app, results_dir):
    upload(app, "model.onnx", b"not weights")
    assert list(app.file_uploader(key="upload_weights_0").proto.type) == []  # the browser accepts any suffix
    assert "model.onnx is not a weight file; upload one of .pt" in errors(app)
    assert stored_uploads(results_dir) == [] and jobs.list_jobs(results_dir) == []


def test_an_upload_that_fails_the_check_is_removed(app, results_dir, tiny_timm):
    upload(app, "truncated.safetensors", tiny_timm.read_bytes()[:5000])
    assert "is not a readable safetensors file" in errors(app)
    assert stored_uploads(results_dir) == []


def test_a_queued_upload_is_released_on_the_next_run(app, results_dir, tiny_timm, monkeypatch):
    """`counteranimal serve` turns off Streamlit's collection after every run; the run that stored an upload held its
    bytes in its namespace, so the page collects once after it, and only then."""
    collections = []
    monkeypatch.setattr(gc, "collect", lambda *args: collections.append(args) or 0)
    open_page(app, "evaluate")
    assert collections == []
    upload(app, "mine.safetensors", tiny_timm.read_bytes())  # checked, stored, queued; the page reruns
    assert len(stored_uploads(results_dir)) == 1 and len(jobs.list_jobs(results_dir)) == 1
    assert len(collections) == 1
    app.run()
    assert len(collections) == 1


def test_a_checked_checkpoint_is_queued_evaluated_and_linked_to_the_overview(app, weights_dir, tiny_timm, results_dir):
    (weights_dir / "mine.safetensors").write_bytes(tiny_timm.read_bytes())
    fill(app, weights_dir / "mine.safetensors", name="My tiny ResNet")
    assert errors(app) == ""
    assert "fit the architecture" in app.success[0].value
    (job,) = jobs.list_jobs(results_dir)
    assert wait_finished(results_dir, job.id).status == jobs.DONE
    app.run()
    assert any("Done" in m.value for m in app.markdown)
    app.button(key=f"job_overview_{job.id}").click().run()
    assert not app.exception, app.exception
    (highlight,) = [c for c in app.markdown if "Effective robustness" in c.value]
    assert "**My tiny ResNet**" in highlight.value and "against the ImageNet trend" in highlight.value
    assert "so this is an extrapolation" in highlight.value  # random weights: far below every published model
    (figure,) = figures(app)
    assert "highlighted: My tiny ResNet" in [trace.name for trace in figure.data]


def test_the_queued_notice_goes_once_its_job_no_longer_waits(app, weights_dir, tiny_timm, results_dir, no_worker):
    (weights_dir / "mine.safetensors").write_bytes(tiny_timm.read_bytes())
    fill(app, weights_dir / "mine.safetensors")
    app.run()
    assert [s.value for s in app.success if s.value.startswith("Queued")]  # still waiting: the notice stays
    (job,) = jobs.list_jobs(results_dir)
    jobs.cancel(results_dir, job.id)
    app.run()
    assert not app.exception, app.exception
    assert not [s.value for s in app.success if s.value.startswith("Queued")]


def test_a_failed_check_clears_the_last_jobs_queued_notice(app, weights_dir, tiny_timm, results_dir, no_worker):
    (weights_dir / "mine.safetensors").write_bytes(tiny_timm.read_bytes())
    fill(app, weights_dir / "mine.safetensors")
    app.run()
    assert [s.value for s in app.success if s.value.startswith("Queued")]
    fill(app, weights_dir / "missing.safetensors")  # the next check fails: its error, not the last one's success
    assert "does not exist" in errors(app)
    assert not [s.value for s in app.success if s.value.startswith("Queued")]
    assert len(jobs.list_jobs(results_dir)) == 1  # the first job is still queued, with its card


def test_failed_jobs_show_their_error_and_can_be_retried(app, results_dir, tiny_timm, dataset_dir):
    request = {"model": f"timm:test_resnet@{tiny_timm}", "name": "flaky", "data": str(dataset_dir)}
    job = claimed(results_dir, {**request, "setups": ["1vs1000"]})
    jobs.finish(results_dir, job, jobs.FAILED, error="Boom.")
    open_page(app, "evaluate")
    assert "Boom." in errors(app)
    app.button(key=f"job_retry_{job.id}").click().run()
    assert jobs.load(results_dir, job.id).status in (jobs.QUEUED, jobs.RUNNING, jobs.DONE)
    finished = wait_finished(results_dir, job.id)  # the retry started a worker: it runs the job again
    assert finished.status == jobs.DONE and finished.state["attempts"] == 2


def test_cancel_on_a_queued_jobs_card_cancels_it(app, results_dir, tiny_timm, dataset_dir, no_worker):
    job = jobs.submit(results_dir, {"model": f"timm:test_resnet@{tiny_timm}", "data": str(dataset_dir), "setups": []})
    open_page(app, "evaluate")
    app.button(key=f"job_cancel_{job.id}").click().run()
    assert not app.exception, app.exception
    assert jobs.load(results_dir, job.id).status == jobs.CANCELLED
    assert any("Cancelled" in m.value for m in app.markdown)


def test_queued_jobs_say_their_place_in_the_queue(app, results_dir, tiny_timm, dataset_dir, no_worker):
    request = {"model": f"timm:test_resnet@{tiny_timm}", "data": str(dataset_dir), "setups": ["1vs1000"]}
    for name in ("first", "second"):
        jobs.submit(results_dir, {**request, "name": name})
    open_page(app, "evaluate")
    places = [c.value for c in app.caption if c.value.endswith("in the queue.")]
    assert places == ["Number 2 in the queue.", "Number 1 in the queue."]  # newest first


def test_the_log_expander_shows_the_jobs_log_tail(app, results_dir, tiny_timm, dataset_dir):
    job = claimed(results_dir, {"model": f"timm:test_resnet@{tiny_timm}", "data": str(dataset_dir), "setups": []})
    (job.folder / "log.txt").write_text("".join(f"line {i}\n" for i in range(40)))
    jobs.finish(results_dir, job, jobs.FAILED, error="Boom.")
    open_page(app, "evaluate")
    (log,) = [e for e in app.expander if e.label == "Log"]
    assert not log.text  # read when opened
    app.session_state[f"job_log_{job.id}"] = True  # as a click opens it
    app.run()
    (log,) = [e for e in app.expander if e.label == "Log"]
    assert log.text[0].value == "\n".join(f"line {i}" for i in range(25, 40))  # the last 15 lines


def test_without_the_engine_the_page_says_how_to_install_it(app, monkeypatch):
    monkeypatch.setattr(job_client, "engine_installed", lambda: False)
    open_page(app, "evaluate")
    assert "make engine" in app.warning[0].value
    assert not app.get("file_uploader")


def test_an_unknown_highlighted_run_is_ignored_with_a_notice(app, with_runs):
    app.query_params["overview_run"] = "no-such-run"
    open_page(app)
    assert not [c for c in app.markdown if "Effective robustness" in c.value]
    assert any("no-such-run" in toast.value for toast in app.toast)


def test_an_open_clip_folder_is_checked_and_evaluated_zero_shot(app, weights_dir, results_dir):
    from engine.inference.demo import write_clip_folder

    write_clip_folder(weights_dir / "my-clip")
    fill(app, weights_dir / "my-clip", kind="open_clip folder (hub format)", name="-v2 CLIP")  # not an option
    assert errors(app) == ""
    (job,) = jobs.list_jobs(results_dir)
    assert job.request["name"] == "-v2 CLIP"
    assert job.request["model"] == f"open_clip:local-dir:{(weights_dir / 'my-clip').resolve()}"
    assert job.request["checked"]["family"] == "CLIP"
    assert wait_finished(results_dir, job.id).status == jobs.DONE


def test_a_dashboard_start_interrupts_orphaned_jobs_and_runs_the_queue(app, results_dir, tiny_timm, dataset_dir):
    request = {"model": f"timm:test_resnet@{tiny_timm}", "data": str(dataset_dir), "setups": ["1vs1000"]}
    orphan = claimed(results_dir, {**request, "name": "was running"})  # running, and its worker is gone
    waiting = jobs.submit(results_dir, {**request, "name": "was queued"})
    open_page(app)  # any page: the dashboard's start resumes the queue
    assert jobs.load(results_dir, orphan.id).status == jobs.INTERRUPTED
    assert wait_finished(results_dir, waiting.id).status == jobs.DONE


def test_progress_says_the_stage_photos_and_time_left():
    progress = {"stage": "scoring photos", "done": 300, "total": 1200, "stage_started": 100.0}
    assert job_client.progress_line(progress, clock=120.0) == (
        0.25,
        "scoring photos: 300 of 1,200 photos, about 60 s left",
    )
    assert job_client.progress_line({"stage": "loading the model", "done": 0, "total": 0}) == (
        None,
        "loading the model",
    )
    assert job_client.progress_line({}) == (None, "starting (loading the engine)")


LVLM_KIND = "vision-language model (transformers folder)"


def test_a_transformers_folder_is_queued_in_1vs20_only_and_evaluated(app, weights_dir, results_dir):
    from engine.inference.labels import imagenet_classnames
    from engine.models.tiny_llava import write_tiny_llava

    write_tiny_llava(weights_dir / "tiny-llava", imagenet_classnames("wordnet"))
    fill(app, weights_dir / "tiny-llava", kind=LVLM_KIND, name="My LLaVA")
    assert not app.get("multiselect")  # no setup to choose: vision-language models answer in 1 vs 20
    assert errors(app) == ""
    assert "match the folder's config.json; scored in 1 vs 20" in app.success[0].value
    (job,) = jobs.list_jobs(results_dir)
    assert job.request["model"] == f"hf:{(weights_dir / 'tiny-llava').resolve()}"
    assert job.request["setups"] == ["1vs20"] and job.request["checked"]["family"] == "LVLM"
    finished = wait_finished(results_dir, job.id)
    assert finished.status == jobs.DONE, finished.state.get("error")
    app.run()
    app.button(key=f"job_gallery_{job.id}").click().run()
    assert not app.exception, app.exception
    assert app.radio(key="gallery_setup").options == ["1 vs 20"]


def test_a_folder_that_is_not_a_transformers_model_is_refused_in_words(app, weights_dir, results_dir):
    (weights_dir / "notes").mkdir()
    (weights_dir / "notes" / "readme.txt").write_text("not a model")
    fill(app, weights_dir / "notes", kind=LVLM_KIND)
    assert "has no config.json: it is not a transformers model folder" in errors(app)
    assert jobs.list_jobs(results_dir) == []


def test_the_vision_language_kind_explains_its_protocol_and_the_terminal(app):
    open_page(app, "evaluate")
    app.radio(key="evaluate_kind").set_value(LVLM_KIND).run()
    explained = " ".join(c.value for c in app.caption)
    assert "“What is the main object in the image?”" in explained and "1 vs 20 only" in explained
    assert "counteranimal eval --model lvlm:llava-1.5-7b" in explained
    assert app.radio(key="evaluate_source").options == ["Path on the server"]


def test_the_newest_jobs_and_every_waiting_one_get_cards_and_older_ones_come_on_request(
    app, results_dir, tiny_timm, dataset_dir, no_worker
):
    from app.app_pages import evaluate

    request = {"model": f"timm:test_resnet@{tiny_timm}", "data": str(dataset_dir), "setups": []}
    jobs.submit(results_dir, {**request, "name": "waiting"})  # the oldest, still queued
    for i in range(evaluate.SHOWN_JOBS + 3):
        jobs.finish(results_dir, jobs.submit(results_dir, {**request, "name": f"done {i}"}), jobs.FAILED, error="Boom.")
    open_page(app, "evaluate")

    def names() -> list[str]:
        return [m.value.strip("*") for m in app.markdown if m.value.startswith("**") and m.value.endswith("**")]

    newest = [f"done {i}" for i in reversed(range(3, evaluate.SHOWN_JOBS + 3))]
    assert names() == [*newest, "waiting"]
    app.button(key="job_show_older").click().run()
    assert names() == [*[f"done {i}" for i in reversed(range(evaluate.SHOWN_JOBS + 3))], "waiting"]
    assert not [b for b in app.button if b.key == "job_show_older"]  # nothing older left
