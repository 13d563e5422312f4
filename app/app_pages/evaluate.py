"""Evaluate: a researcher's own checkpoint, checked against its architecture, then evaluated by a background worker
while the page shows live progress. The result appears on the Overview like every run."""

import gc
from pathlib import Path

import pandas as pd
import streamlit as st

from app import cached, job_client
from app.widgets import evaluate_gate
from app.widgets.navigation import go_to
from engine import jobs
from engine.config import WEIGHT_SUFFIXES, allowed_roots, data_dir, results_dir
from engine.jobs.inputs import InputError, resolve_allowed, save_upload
from engine.runs.format import LVLM_ANSWER, LVLM_QUESTION, ONE_VS_20, SETUP_LABELS, SETUPS
from engine.zoo.specs import spec_for

# Job cards drawn at first, and added by each "Show older": a card is a dozen elements, and 20 of them made a fresh
# load of this page 0.1 s slower in the browser (bench/browser_latency.py). Queued and running jobs always show.
SHOWN_JOBS, MORE_JOBS = 8, 20
ARCHITECTURE_HELP = {
    "open_clip": "Weights trained with QuickGELU (every OpenAI CLIP, some LAION-400M ones) need the `-quickgelu` "
    "architecture, e.g. ViT-B-32-quickgelu; otherwise every prediction is off.",
    "timm": "Photos are preprocessed as for the architecture's default pretrained weights; the head must predict the "
    "1,000 ImageNet classes.",
}
ONLY_SETUPS = {"hf": [ONE_VS_20]}  # kinds scored in one setup only: vision-language models answer 1 vs 20
LVLM_PROTOCOL = (
    f"As in the paper, the model is asked “{LVLM_QUESTION}” about each photo, and each of the class's 20 candidates is "
    f"scored by the loss of the answer “{LVLM_ANSWER.format('<candidate>')}”, so it is evaluated in 1 vs 20 only: "
    "slow on a CPU, and a model too big for this machine's memory, or estimated to take hours, is refused with its "
    "size and time estimate. MiniGPT-4 and models on the Hugging Face hub are evaluated from the terminal, e.g. "
    "`counteranimal eval --model lvlm:llava-1.5-7b --setups 1vs20` (README, “Vision-language models”)."
)
# This page runs only architectures of the installed libraries; anything else is done from the terminal.
OTHER_WAYS = """
This page never runs code of yours. From a terminal on this machine:

- **Predictions made elsewhere** (JAX, TensorFlow, an API, any PyTorch code): write one row per photo, with its path
  in the dataset (`image_id`) and the predicted ImageNet index (`pred_1vs1000`, and/or `pred_1vs20` among its class's
  20 candidates), optionally the top-5 ids and scores, as CSV, Parquet or JSON lines, then
  `counteranimal import --predictions preds.csv --name "My model" --data DATASET --family ImageNet`.
  The file is checked against the dataset (every photo once) before anything is written.
- **A model defined in your own code**: a function that returns the network and its preprocessing, evaluated with
  `counteranimal eval --model python:mypackage.models:build@weights.pt --data DATASET` (or `python:./net.py:build`).

Both runs appear on every page like this page's. README: "Importing predictions" and "Your own model code".
"""
results = results_dir()
roots = allowed_roots(results)
limit_mb = st.get_option("server.maxUploadSize")

if st.session_state.pop("evaluate_release_upload", False):
    # The run that stored an upload held its bytes (up to 2 GB) in its namespace, which only a full collection frees:
    # `counteranimal serve` turns off Streamlit's collection after every run, so this page collects once here.
    gc.collect()
st.title("Evaluate your own model")
evaluate_gate.require_access()  # a shared dashboard: nothing below without the operator's token
st.caption(
    "Give an architecture and its weights. They are checked against the architecture before anything runs; the "
    "evaluation then runs in the background (one at a time, on the GPU when there is one), so you can leave this "
    "page, or close the tab, and come back. When it is done, the model appears on the Overview."
)
with st.expander("Other frameworks and your own code"):
    st.markdown(OTHER_WAYS)
notice_slot = st.empty()  # the last queued job's notice: cleared by a check that fails, which it would seem to answer
if notice := st.session_state.get("evaluate_notice"):  # (job id, text): shown while that job waits or runs
    notice_slot.success(notice[1], icon=":material/schedule:")


def _form() -> None:
    kind = job_client.KINDS[st.radio("Kind", list(job_client.KINDS), horizontal=True, key="evaluate_kind")]
    architecture = ""
    if kind == "hf":
        st.caption(LVLM_PROTOCOL)
    if kind not in job_client.FOLDER_KINDS:
        names = job_client.architectures()[kind]
        architecture = st.selectbox(
            "Architecture", names, index=None, key=f"evaluate_arch_{kind}",
            placeholder="Type to search the installed architectures", help=ARCHITECTURE_HELP.get(kind),
        )  # fmt: skip
    sources = ["Path on the server"] if kind in job_client.FOLDER_KINDS else ["Upload", "Path on the server"]
    source = st.radio("Weights", sources, horizontal=True, key="evaluate_source")
    upload, server_path = None, ""
    if source == "Upload":
        round_ = st.session_state.setdefault("evaluate_upload_round", 0)
        upload = st.file_uploader(
            f"Weight file ({', '.join(WEIGHT_SUFFIXES)}; safetensors preferred; up to {limit_mb:,} MB)",
            # Any suffix: the browser would refuse others with a bare icon; the check below says why in words.
            type=None,
            key=f"upload_weights_{round_}",
            help="Bigger files: copy them to the server and choose Path on the server.",
        )
    else:
        what = job_client.FOLDER_KINDS.get(kind, "weight file")
        server_path = st.text_input(
            f"Path of the {what} on the server",
            key="evaluate_path",
            help="Allowed under: " + ", ".join(str(r) for r in roots),
        )
    name = st.text_input("Display name", key="evaluate_name", placeholder="e.g. My ViT-B/16, epoch 30")
    st.session_state.setdefault("evaluate_data", str(data_dir()))
    data = st.text_input("Dataset folder", key="evaluate_data")
    setups = _setups(kind)
    if st.button("Check and evaluate", type="primary", key="job_submit"):
        with st.spinner("Checking the weights against the architecture, and the dataset..."):
            error = _submit(kind, architecture, upload, server_path, name.strip(), data, setups)
        if error:
            st.session_state.pop("evaluate_notice", None)  # its job keeps its card below
            notice_slot.empty()
            st.error(error, icon=":material/block:")


def _setups(kind: str) -> list[str]:
    """The setups to evaluate: the user's choice, or the only one a kind is scored in."""
    if only := ONLY_SETUPS.get(kind):
        st.caption(f"Setups: {', '.join(SETUP_LABELS[s] for s in only)} only.")
        return only
    st.session_state.setdefault("evaluate_setups", list(SETUPS))
    return st.multiselect("Setups", list(SETUPS), key="evaluate_setups", format_func=SETUP_LABELS.get)


def _missing_choice(kind: str, architecture: str | None, upload, server_path: str, setups: list) -> str:
    if kind not in job_client.FOLDER_KINDS and not architecture:
        return "Choose the architecture the weights belong to."
    if not setups:
        return "Choose at least one setup."
    if upload is None and not server_path.strip():
        return "Upload a weight file, or give its path on the server."
    return ""


def _weights(kind: str, upload, server_path: str) -> tuple[Path, bool]:
    """The weights' path on the server, and whether it is an upload stored just now (removed if the check fails).

    Raises:
        InputError: a path outside the allowed roots, or an upload that is not weights or too big.
    """
    if upload is None:
        return resolve_allowed(
            server_path, roots, "folder" if kind in job_client.FOLDER_KINDS else "weight file"
        ), False
    try:
        return save_upload(results, upload.name, upload, upload.size, limit_mb * 2**20)
    except OSError as error:  # a full disk, a read-only results folder
        raise InputError(f"Could not store the upload in {results}: {error}.") from error


def _submit(
    kind: str, architecture: str | None, upload, server_path: str, name: str, data: str, setups: list
) -> str | None:
    """Check and queue; an error in plain words, or none (the page then reruns with the job in the list)."""
    if missing := _missing_choice(kind, architecture, upload, server_path, setups):
        return missing
    try:
        dataset = resolve_allowed(data, roots, "dataset")
        weights, stored_now = _weights(kind, upload, server_path)
    except InputError as error:
        return str(error)
    submitted = job_client.submit(results, spec_for(kind, architecture, weights), name, str(dataset), setups)
    if submitted.error:
        if stored_now:  # a file that fails the check is not kept
            weights.unlink(missing_ok=True)
        return submitted.error
    st.session_state["evaluate_notice"] = (submitted.job_id, _queued_text(kind, submitted.checked))
    st.session_state["evaluate_upload_round"] = st.session_state.get("evaluate_upload_round", 0) + 1  # frees it
    st.session_state["evaluate_release_upload"] = upload is not None
    st.rerun()


def _queued_text(kind: str, checked: dict) -> str:
    millions = f"{checked['parameters'] / 1e6:,.1f} M parameters"
    if kind == "hf":  # its weights are checked by count against its config.json (names are checked as they load)
        return f"Queued: the weights' {millions} match the folder's config.json; scored in 1 vs 20. Follow it below."
    return f"Queued: {checked['tensors']} tensors ({millions}) fit the architecture. Follow it below."


def _act(change, job: jobs.Job) -> None:
    """Cancel or Retry, then show the list as it is now (a full rerun, so it refreshes itself while jobs run)."""
    try:
        change(results, job.id)
        job_client.keep_queue_moving(results)
    except jobs.JobError as error:  # a second click, another tab, or a deleted job folder
        st.toast(str(error), icon=":material/info:")
        return
    st.rerun()


def _job_card(job: jobs.Job, all_jobs: list[jobs.Job], metrics: pd.DataFrame | None) -> None:
    request = job.request
    with st.container(border=True):
        title, status, actions = st.columns([5, 2, 2])
        title.markdown(f"**{request.get('name') or Path(request['model']).name}**")
        when = request["submitted_at"][:16].replace("T", " ")
        title.caption(f"`{request['model']}` · {', '.join(request['setups'])} · queued {when} UTC")
        status.markdown(job_client.STATUS_LABELS.get(job.status, job.status))
        if job.status in (jobs.QUEUED, jobs.RUNNING):
            if job.cancel_requested:
                actions.caption("Cancelling...")
            elif actions.button("Cancel", key=f"job_cancel_{job.id}", icon=":material/stop:"):
                _act(jobs.cancel, job)
        if job.status in jobs.RETRYABLE and actions.button(
            "Retry", key=f"job_retry_{job.id}", icon=":material/replay:"
        ):
            _act(jobs.retry, job)
        if job.status == jobs.RUNNING:
            fraction, text = job_client.progress_line(job.progress())
            st.progress(fraction or 0.0, text=text)
        elif job.status == jobs.QUEUED:
            st.caption(f"Number {job_client.queue_position(job, all_jobs)} in the queue.")
        elif job.status == jobs.DONE:
            _done_links(job, metrics)
        else:
            st.error(job.state.get("error") or job.status)
        if job.status != jobs.QUEUED:  # read and drawn only while open: a rerun opens it
            with st.expander("Log", key=f"job_log_{job.id}", on_change="rerun") as log:
                if log.open:  # st.text, not st.code: a log needs no highlighting, and st.code loads a 1.5 MB script
                    st.text(job.log_tail() or "(empty)")


def _done_links(job: jobs.Job, metrics: pd.DataFrame) -> None:
    run_id = job.state["run_id"]
    when = job.state.get("finished_at", "")[:16].replace("T", " ")
    st.caption(f"Run `{run_id}`{_reused_note(job)}, finished {when} UTC.")
    row = st.container(horizontal=True, vertical_alignment="center")  # wraps rather than cutting a label short
    if row.button("Show on the Overview", key=f"job_overview_{job.id}", icon=":material/scatter_plot:"):
        go_to("", {"overview_run": run_id})
        st.rerun()
    if row.button("Open its gallery", key=f"job_gallery_{job.id}", icon=":material/photo_library:"):
        go_to("gallery", {"gallery_run": run_id})
        st.rerun()
    row.markdown(_scores_text(metrics[metrics["run_id"] == run_id]), width="content")


def _reused_note(job: jobs.Job) -> str:
    """What became of an identical run the job found: the engine kept its predictions and gave it the job's name."""
    if not job.state.get("skipped"):
        return ""
    named = f", now named “{job.request['name']}”" if job.request.get("name") else ""
    return f" (an identical run already existed{named}: its predictions were kept)"


def _scores_text(rows: pd.DataFrame) -> str:
    """A finished run's class-balanced scores, one line per setup it has."""
    if rows.empty:
        return "Its run is no longer in the results folder."
    return "  \n".join(
        f"{SETUP_LABELS.get(row.setup, row.setup)}: common **{row.common:.1f}%**, counter **{row.counter:.1f}%**, "
        f"drop **{row.drop:.1f}** points"
        for row in rows.itertuples()
    )


def _announce(all_jobs: list[jobs.Job]) -> None:
    """A toast when a job this session watched finishes."""
    seen = st.session_state.setdefault("evaluate_seen", {})
    for job in all_jobs:
        if seen.get(job.id) in (jobs.QUEUED, jobs.RUNNING) and job.status not in (jobs.QUEUED, jobs.RUNNING):
            st.toast(f"{job.request.get('name') or job.request['model']}: {job.status}")
        seen[job.id] = job.status


def _end_notice(all_jobs: list[jobs.Job]) -> None:
    """The "Queued" notice goes once its job no longer waits or runs (a full rerun: the notice is outside this
    fragment)."""
    if not (notice := st.session_state.get("evaluate_notice")):
        return
    if not any(job.id == notice[0] and job.status in (jobs.QUEUED, jobs.RUNNING) for job in all_jobs):
        del st.session_state["evaluate_notice"]
        st.rerun()


def _jobs() -> None:
    all_jobs = jobs.list_jobs(results)
    if job_client.keep_queue_moving(results, all_jobs):  # a worker died while the dashboard runs: its job changed
        all_jobs = jobs.list_jobs(results)
    _announce(all_jobs)
    _end_notice(all_jobs)
    if not all_jobs:
        st.caption("No evaluations yet.")
    # Finished runs' scores: one cached query for every card, read again when a run appears.
    done = any(job.status == jobs.DONE for job in all_jobs)
    metrics = cached.run_metrics(cached.sources()) if done else None
    shown = st.session_state.get("evaluate_shown_jobs", SHOWN_JOBS)
    cards = shown_jobs(all_jobs, shown)
    for job in reversed(cards):  # newest first
        _job_card(job, all_jobs, metrics)
    if older := len(all_jobs) - len(cards):
        st.button(
            f"Show older ({older} not shown)", key="job_show_older", icon=":material/expand_more:",
            on_click=_show_older,
        )  # fmt: skip
        st.caption("`counteranimal jobs` lists every job.")


def _show_older() -> None:
    st.session_state["evaluate_shown_jobs"] = st.session_state.get("evaluate_shown_jobs", SHOWN_JOBS) + MORE_JOBS


def shown_jobs(all_jobs: list[jobs.Job], newest: int) -> list[jobs.Job]:
    """The jobs given a card, oldest first: the `newest` ones, and any older one still queued or running."""
    waiting = [job for job in all_jobs[:-newest] if job.status in (jobs.QUEUED, jobs.RUNNING)]
    return waiting + all_jobs[-newest:]


if job_client.engine_installed():
    _form()
else:
    st.warning(
        "This installation has the dashboard only. To evaluate models, install the engine "
        "(`make engine`, or `pip install -e '.[engine]'`) and restart the dashboard.",
        icon=":material/build:",
    )
st.subheader("Evaluations")
active = any(job.status in (jobs.QUEUED, jobs.RUNNING) for job in jobs.list_jobs(results))
st.fragment(_jobs, run_every=1.0 if active else 3.0)()  # jobs queued elsewhere (a terminal, another tab) show up
