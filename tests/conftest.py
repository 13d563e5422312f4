"""Shared fixtures: an isolated results folder, the running dashboard, headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAPER = REPO / "results" / "paper"
APP_MAIN = str(REPO / "app" / "main.py")


def open_link(**query: str):
    """A fresh session (a new browser) opening the dashboard at a link with these query parameters; it must render
    without an exception."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP_MAIN, default_timeout=60)
    for name, value in query.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception, at.exception
    return at


CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "tests" / "artifacts"  # screenshots of browser tests, kept for people to look at

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def run_manifest(run_id: str, **fields: object):
    """A run.json for hand-written runs: the run format's required fields with plain values, `fields` replacing
    them."""
    from engine.runs.format import SETUPS, RunManifest

    defaults = {
        "model": {"spec": "timm:test_resnet@/w.pt", "family": "ImageNet"},
        "dataset": {"root": "/data/LAION-final", "fingerprint": "f1"},
        "labels": {"classnames": "wordnet", "templates": None},
        "setups": list(SETUPS),
        "started_at": "2026-01-01T00:00:00",
        "images": {"evaluated": 0},
    }
    return RunManifest(run_id=run_id, **(defaults | fields))


RAY_GROUP = "ray"


def _is_ray_test(path: str) -> bool:
    return Path(path.split("::")[0]).name.startswith("test_ray")


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`make test` runs the suite on two xdist workers (`--dist loadgroup`): the Ray files' tests share one worker, so
    that two local Ray clusters never compete for the two cores; every other test goes to whichever worker is free,
    which keeps both busy to the end (the browser and Evaluate files take minutes each)."""
    for item in items:
        if _is_ray_test(item.nodeid):
            item.add_marker(pytest.mark.xdist_group(RAY_GROUP))


@pytest.hookimpl(optionalhook=True)  # an xdist hook: run in the controller as each worker reports its tests
def pytest_xdist_node_collection_finished(node, ids: list[str]) -> None:
    """Stop at once if xdist did not tag the Ray tests with their group: it would spread them silently, and each
    worker would start a Ray cluster of its own (pytest 9.2 with xdist 3.8: pytest-xdist#1386)."""
    ungrouped = [nodeid for nodeid in ids if _is_ray_test(nodeid) and not nodeid.endswith(f"@{RAY_GROUP}")]
    if node.config.getvalue("dist") == "loadgroup" and ungrouped:
        pytest.exit(
            f"pytest {pytest.__version__} with pytest-xdist cannot group tests (--dist loadgroup): install the "
            "versions of pyproject.toml's test extra (make test does).",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )


@pytest.fixture(autouse=True)
def _keep_the_main_module() -> Iterator[None]:
    """AppTest runs a page as `__main__` and leaves it in `sys.modules`; a process pool started later in this process
    (spawn, forkserver: the demo's photo writers, the image cache's decoders) would run that page again in every
    worker, where it fails outside Streamlit, so the pool waited forever for workers that kept dying."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@pytest.fixture
def results_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty results folder the app and commands are pointed at."""
    folder = tmp_path / "results"
    folder.mkdir()
    monkeypatch.setenv("COUNTERANIMAL_RESULTS", str(folder))
    return folder


@pytest.fixture
def paper_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A writable copy of the published tables, used by the app instead of the originals."""
    folder = tmp_path / "paper"
    shutil.copytree(PAPER, folder)
    monkeypatch.setenv("COUNTERANIMAL_PAPER_DIR", str(folder))
    return folder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the dashboard exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"the dashboard did not answer at {url} within {timeout_s} s")


def _serve(results: Path, cache: Path, env: dict[str, str] | None = None, host: str = "127.0.0.1") -> Iterator[str]:
    port = _free_port()
    command = [sys.executable, "-m", "engine.cli", "serve", "--host", host, "--port", str(port)]
    command += ["--results", str(results)]
    env = {**os.environ, "COUNTERANIMAL_CACHE": str(cache), **(env or {})}
    # Started from a folder of its own, not the project's: the dashboard's settings must not depend on where it starts.
    cwd = results.parent
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://{host}:{port}"
    try:
        _wait_healthy(url, process)
        yield url
    finally:
        process.terminate()  # `serve` execs Streamlit, so this stops the server itself
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`counteranimal serve` on a free port, with an empty results folder."""
    yield from _serve(tmp_path_factory.mktemp("served-results"), tmp_path_factory.mktemp("served-cache"))


@pytest.fixture(scope="session")
def demo_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`counteranimal serve` on demo runs with 13 photos per background (two gallery pages), and one finished job of
    the Evaluate page, which links the first run."""
    from engine import jobs
    from engine.inference.demo import write_demo

    root = tmp_path_factory.mktemp("served-demo")
    results, _ = write_demo(root, root / "cache", workers=2, progress=False, per_group=13)
    run_id = min(path.name for path in (results / "runs").iterdir())
    job = jobs.submit(results, {"model": "timm:test_resnet@/w.pt", "name": "a finished job", "setups": []})
    jobs.finish(results, job, jobs.DONE, run_id=run_id)
    yield from _serve(results, root / "cache")


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright (never `playwright install`)."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}; browser tests need it. "
            "Install it with `sudo apt-get install -y chromium` (make test does this when run as root).",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield context.new_page()
    context.close()


# ---- engine fixtures: tiny random models and generated datasets (everything offline) ----------------------------

TINY_CLIP = "ca-tiny-clip"  # an open_clip architecture registered for tests: real code paths, random weights
TINY_CLIP_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}
TEST_CLASSES = [9, 100, 296]  # ostrich, black swan, ice bear


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Register the tiny open_clip architecture and return a checkpoint file of random weights for it."""
    import json

    import open_clip
    import torch

    folder = tmp_path_factory.mktemp("tiny-clip")
    config = folder / f"{TINY_CLIP}.json"
    config.write_text(json.dumps(TINY_CLIP_CONFIG))
    open_clip.add_model_config(config)
    torch.manual_seed(0)
    weights = folder / "tiny_clip.pt"
    torch.save(open_clip.create_model(TINY_CLIP).state_dict(), weights)
    return weights


@pytest.fixture(scope="session")
def tiny_timm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Random weights of timm's `test_resnet` (an ImageNet-1K classifier built offline in milliseconds)."""
    import timm
    import torch

    torch.manual_seed(0)
    weights = tmp_path_factory.mktemp("tiny-timm") / "test_resnet.safetensors"
    from safetensors.torch import save_file

    save_file(timm.create_model("test_resnet", pretrained=False).state_dict(), str(weights))
    return weights


@pytest.fixture(scope="session")
def dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated dataset in the archive's layout (3 classes, 4 photos per group, 48-80 px)."""
    from engine.dataset.synthetic import write_dataset

    return write_dataset(tmp_path_factory.mktemp("data"), TEST_CLASSES, per_group=4, sizes=(48, 80))


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("COUNTERANIMAL_CACHE", str(folder))
    return folder


@pytest.fixture(scope="session")
def demo_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`counteranimal demo` in miniature: a generated dataset and two runs of tiny random models."""
    from engine.inference.demo import write_demo

    root = tmp_path_factory.mktemp("demo")
    results, _ = write_demo(root, root / "cache", workers=1, progress=False, per_group=4)
    return results


@pytest.fixture(scope="session")
def counteranimal_results(demo_results: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's runs as if they measured CounterAnimal (its layout, its classes and backgrounds), so the pages show
    them next to the published numbers: a copy whose run manifests do not name the demo dataset."""
    from engine.inference.demo import DEMO_NAME

    copy = shutil.copytree(demo_results, tmp_path_factory.mktemp("as-counteranimal") / "results")
    for manifest in copy.glob("runs/*/run.json"):
        run = json.loads(manifest.read_text())
        if run["dataset"].get("name") == DEMO_NAME:
            del run["dataset"]["name"]
            manifest.write_text(json.dumps(run))
    return copy


@pytest.fixture
def with_runs(counteranimal_results: Path, paper_copy: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The app pointed at the demo runs, taken for CounterAnimal runs (and a private cache for thumbnails)."""
    monkeypatch.setenv("COUNTERANIMAL_RESULTS", str(counteranimal_results))
    monkeypatch.setenv("COUNTERANIMAL_CACHE", str(tmp_path / "cache"))
    return counteranimal_results


@pytest.fixture(scope="session")
def evaluate_server_url(tmp_path_factory: pytest.TempPathFactory, dataset_dir: Path) -> Iterator[str]:
    """`counteranimal serve` with the engine: the generated dataset as default, an empty results folder."""
    root = tmp_path_factory.mktemp("served-evaluate")
    env = {"COUNTERANIMAL_DATA": str(dataset_dir), "COUNTERANIMAL_ALLOWED_ROOTS": str(root / "weights")}
    yield from _serve(root / "results", root / "cache", env)


SHARED_HOST = "127.0.0.2"  # loopback, so reachable from this machine only, but served as if to a meeting room
SHARED_TOKEN = "room-secret-4711"


@pytest.fixture(scope="session")
def shared_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`counteranimal serve --host 127.0.0.2` marked shared (`COUNTERANIMAL_SHARED=1`, as for a loopback server behind
    a reverse proxy) with an evaluation token: Evaluate is locked until a visitor enters `SHARED_TOKEN`."""
    root = tmp_path_factory.mktemp("served-shared")
    shared = {"COUNTERANIMAL_SHARED": "1", "COUNTERANIMAL_EVALUATE_TOKEN": SHARED_TOKEN}
    yield from _serve(root / "results", root / "cache", shared, host=SHARED_HOST)


# Photos per class and background, and how many of them the run gets right (in both setups). Ice bear (296): 4 common
# photos, all right; 1 counter photo, wrong. Ostrich (9): 1 common photo, wrong; 4 counter photos, 2 right.
# Class-balanced: common (100 + 0) / 2 = 50, counter (0 + 50) / 2 = 25, drop 25. Per photo: 4/5 = 80, 2/5 = 40, drop 40.
UNEQUAL_GROUPS = {(296, "common"): (4, 4), (296, "counter"): (1, 0), (9, "common"): (1, 0), (9, "counter"): (4, 2)}


@pytest.fixture
def with_unequal_run(tmp_path: Path, paper_copy: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The app pointed at one hand-written run whose classes and backgrounds have unequal numbers of photos
    (`UNEQUAL_GROUPS`), so the class-balanced and the per-photo accuracy differ."""
    from engine.runs import store
    from engine.runs.format import SETUPS, correct_column, pred_column, predictions_table

    rows = [  # (image_id, class_id, split, right); a wrong answer is an Arctic fox (279)
        (f"{class_id}/{split}/{i}.jpg", class_id, split, i < hits)
        for (class_id, split), (photos, hits) in UNEQUAL_GROUPS.items()
        for i in range(photos)
    ]
    columns = {
        "image_id": [r[0] for r in rows],
        "class_id": [r[1] for r in rows],
        "split": [r[2] for r in rows],
        "background": ["snow" if r[2] == "common" else "grass" for r in rows],
    }
    for setup in SETUPS:
        columns[pred_column(setup)] = [r[1] if r[3] else 279 for r in rows]
        columns[correct_column(setup)] = [r[3] for r in rows]
    results = tmp_path / "unequal-results"
    manifest = run_manifest("unequal", images={"evaluated": len(rows)})
    store.write_run(results, manifest, predictions_table(columns))
    monkeypatch.setenv("COUNTERANIMAL_RESULTS", str(results))
    return results
