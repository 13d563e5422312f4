"""Evaluation on a Ray cluster (engine.distributed): the runs a local cluster makes are the runs made in one process,
byte for byte; a worker killed mid-model is retried; a bad checkpoint fails alone. One cluster serves the module."""

import hashlib
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # Ray on 127.0.0.1 only
# Token authentication with a token of the test run's own, passed by environment: nothing read from or written to
# ~/.ray/auth_token, which every Ray cluster of this user shares.
os.environ["RAY_AUTH_MODE"] = "token"
os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))

from engine.dataset.reader import load_dataset  # noqa: E402
from engine.distributed import ClusterRequest, evaluate_on_cluster  # noqa: E402
from engine.inference.evaluator import EvalOptions, Evaluator  # noqa: E402
from tests.conftest import TINY_CLIP_CONFIG  # noqa: E402

KILL_ONCE_NET = """
import os, signal
from pathlib import Path
import timm, torch
from timm.data import create_transform, resolve_data_config

MARKER = Path(__file__).with_name("kill-once")  # present: the first forward pass kills its worker (and removes it)


class KilledOnce(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = timm.create_model("test_resnet", pretrained=False)

    def forward(self, x):
        if MARKER.exists():
            MARKER.unlink()
            os.kill(os.getpid(), signal.SIGKILL)  # a worker lost mid-model, as on a lost node
        return self.net(x)


def build():
    torch.manual_seed(0)
    net = KilledOnce()
    return {"network": net, "preprocess": create_transform(**resolve_data_config({}, model=net.net))}


class Slow(KilledOnce):
    def forward(self, x):
        import time

        time.sleep(5)  # long enough to be interrupted
        return self.net(x)


def build_slow():
    return {**build(), "network": Slow()}
"""


def short_temp_dir() -> Path:
    """A new folder for Ray's sessions right under the system's temp folder: Ray puts its Unix sockets there, whose
    paths may not exceed 107 bytes, and pytest's temp folders (under xdist, `.../popen-gw0/...`) are too deep."""
    return Path(tempfile.mkdtemp(prefix="ca-ray-"))


@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster of 2 CPUs for the module, shut down whatever happens. Models use one torch thread, here
    and on the workers (which take the driver's count), so that two run side by side on the two CPUs."""
    import ray

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    sessions = short_temp_dir()  # Ray's socket paths must stay under 108 bytes: not under pytest's (xdist's) tmp
    ray.init(
        num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=200 * 1024**2,
        _temp_dir=str(sessions),
    )  # fmt: skip
    try:
        yield
    finally:
        ray.shutdown()
        torch.set_num_threads(threads)
        shutil.rmtree(sessions, ignore_errors=True)


@pytest.fixture(scope="module")
def models(tmp_path_factory, tiny_clip, tiny_timm) -> dict[str, str]:
    """Three tiny models from three loaders' code paths, and one whose first forward pass kills its worker."""
    import timm
    from safetensors.torch import save_file

    root = tmp_path_factory.mktemp("ray-models")
    clip = root / "clip"
    clip.mkdir()
    (clip / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY_CLIP_CONFIG, "preprocess_cfg": {}}))
    shutil.copy(tiny_clip, clip / "open_clip_pytorch_model.bin")
    torch.manual_seed(2)
    save_file(timm.create_model("test_vit", pretrained=False).state_dict(), str(root / "vit.safetensors"))
    (root / "net.py").write_text(KILL_ONCE_NET)
    (root / "bad.pt").write_bytes(b"not a checkpoint")
    return {
        "clip": f"open_clip:local-dir:{clip}",
        "resnet": f"timm:test_resnet@{tiny_timm}",
        "vit": f"timm:test_vit@{root / 'vit.safetensors'}",
        "killed": f"python:{root / 'net.py'}:build",
        "slow": f"python:{root / 'net.py'}:build_slow",
        "bad": f"timm:test_resnet@{root / 'bad.pt'}",
    }


def options(root: Path, **overrides) -> EvalOptions:
    base = {"results": root / "results", "cache": root / "cache", "device": torch.device("cpu"), "workers": 1}
    return EvalOptions(**(base | {"batch_size": 7, "progress": False} | overrides))


def serial_runs(dataset_dir: Path, root: Path, specs: list[str]) -> dict[str, str]:
    """{run id: SHA-256 of predictions.parquet} of the specs evaluated in this process."""
    with Evaluator(load_dataset(dataset_dir), options(root)) as evaluator:
        outcomes = [evaluator.evaluate(spec) for spec in specs]
    return {o.run_id: _sha(o.path / "predictions.parquet") for o in outcomes}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cluster_runs(outcomes) -> dict[str, str]:
    return {o.run_id: _sha(o.path / "predictions.parquet") for o in outcomes}


def on_cluster(dataset_dir: Path, root: Path, specs: list[str], **request):
    request = ClusterRequest(tuple(specs), device="cpu", show_progress=False, **request)
    return evaluate_on_cluster(load_dataset(dataset_dir), options(root), request)


@pytest.fixture(scope="module")
def three(cluster, models, dataset_dir, tmp_path_factory) -> dict:
    """Three models evaluated on the cluster, and the same three in this process."""
    root = tmp_path_factory.mktemp("three")
    specs = [models["clip"], models["resnet"], models["vit"]]
    outcomes = on_cluster(dataset_dir, root / "cluster", specs)
    return {"root": root, "outcomes": outcomes, "serial": serial_runs(dataset_dir, root / "serial", specs)}


def test_a_cluster_makes_the_runs_one_process_makes(three, dataset_dir):
    assert [o.error for o in three["outcomes"]] == [None] * 3
    assert cluster_runs(three["outcomes"]) == three["serial"]
    manifest = json.loads((three["outcomes"][0].path / "run.json").read_text())
    assert manifest["dataset"]["root"] == str(load_dataset(dataset_dir).root) and "Ray node" in manifest["device"]


def test_a_cluster_run_counts_the_nodes_decoding_as_its_cache_wait(three):
    waits = [json.loads((o.path / "run.json").read_text())["seconds"]["cache_wait"] for o in three["outcomes"]]
    assert max(waits) > 0.01  # the task that built its node's image cache (24 photos) waited for the decoding


def test_local_weights_missing_on_a_node_are_refused_naming_the_node(cluster, dataset_dir, tmp_path):
    absent = tmp_path / "absent.safetensors"
    (outcome,) = on_cluster(dataset_dir, tmp_path, [f"timm:test_resnet@{absent}"])
    assert outcome.run_id is None and f"{absent} is not on Ray node 127.0.0.1/" in outcome.error
    assert "same path on every node" in outcome.error


def test_a_rerun_on_the_cluster_is_skipped_and_takes_the_new_name(three, models, dataset_dir):
    first = three["outcomes"][1]
    again = on_cluster(dataset_dir, three["root"] / "cluster", [models["resnet"]], names=("my resnet",))[0]
    assert (again.skipped, again.run_id) == (True, first.run_id)
    assert json.loads((first.path / "run.json").read_text())["model"]["name"] == "my resnet"


@pytest.fixture(scope="module")
def faulty(cluster, models, dataset_dir, tmp_path_factory) -> dict:
    """A bad checkpoint next to a model whose first attempt is killed mid-model."""
    root = tmp_path_factory.mktemp("faulty")
    marker = Path(models["killed"].split(":")[1]).with_name("kill-once")
    marker.touch()
    bad, killed = on_cluster(dataset_dir, root / "cluster", [models["bad"], models["killed"]])
    return {"bad": bad, "killed": killed, "marker": marker, "root": root}


def test_a_worker_killed_mid_model_is_retried_and_the_run_is_the_same(faulty, models, dataset_dir):
    killed = faulty["killed"]
    assert killed.error is None and not faulty["marker"].exists()  # the first attempt died in its forward pass
    assert cluster_runs([killed]) == serial_runs(dataset_dir, faulty["root"] / "serial", [models["killed"]])


def test_a_bad_checkpoint_fails_alone_with_its_message(faulty):
    bad, killed = faulty["bad"], faulty["killed"]
    assert bad.run_id is None and "bad.pt" in bad.error and "\n" not in bad.error
    assert killed.error is None and (killed.path / "predictions.parquet").is_file()


def test_shipped_photos_and_photo_shards_make_the_same_run(three, models, dataset_dir, tmp_path, monkeypatch):
    """A node without the dataset gets the photos through the object store, and one model's photos split in three
    shards join into the run one worker makes."""
    from engine.distributed import driver

    copy = tmp_path / "data"
    shutil.copytree(dataset_dir, copy)  # copytree keeps modification times: the same dataset

    def pack_then_remove(dataset):  # the driver ships the photos; then no node has them at the driver's path
        shipped = real_pack(dataset)
        shutil.move(copy, tmp_path / "elsewhere")
        return shipped

    real_pack = driver.pack
    monkeypatch.setattr(driver, "pack", pack_then_remove)
    request = ClusterRequest((models["vit"],), device="cpu", show_progress=False, ship_photos=True, shards=3)
    outcome = evaluate_on_cluster(load_dataset(copy), options(tmp_path), request)[0]
    assert outcome.error is None, outcome.error
    assert cluster_runs([outcome]).items() <= three["serial"].items()
    assert len(list((tmp_path / "cache" / "datasets").iterdir())) == 1  # the node's copy, written once


def test_a_job_runs_on_the_cluster_and_its_card_says_where(cluster, models, dataset_dir, tmp_path, monkeypatch):
    from app import job_client
    from engine import jobs
    from engine.cli.job_commands import _job_on_cluster

    monkeypatch.setenv("COUNTERANIMAL_CACHE", str(tmp_path / "cache"))
    request = {"model": models["resnet"], "name": "r", "data": str(dataset_dir), "setups": ["1vs1000", "1vs20"]}
    job = jobs.submit(tmp_path / "results", {**request, "device": "cpu"})
    assert _job_on_cluster(job, tmp_path / "results", "auto") == 0  # "auto": the cluster this process is connected to
    assert job.result()["run_id"] and job.progress()["where"].startswith("the Ray cluster at auto: 1 node(s)")
    assert job_client.progress_line(job.progress())[1].endswith(f"on {job.progress()['where']}")


def test_without_ray_the_flag_says_how_to_add_it(dataset_dir, monkeypatch, capsys):
    from engine.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    assert main(["eval", "--model", "timm:test_resnet", "--data", str(dataset_dir), "--ray"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "pip install -e '.[ray]'" in error


def test_ctrl_c_cancels_every_task(cluster, models, dataset_dir, tmp_path):
    import _thread

    import ray

    def interrupt_when_scoring(_spec, stage, _done, _total):  # Ctrl-C, once the model is being scored
        if stage == "scoring photos":
            _thread.interrupt_main()

    request = ClusterRequest((models["slow"],) * 2, device="cpu", listener=interrupt_when_scoring, show_progress=False)
    with pytest.raises(KeyboardInterrupt):
        evaluate_on_cluster(load_dataset(dataset_dir), options(tmp_path), request)
    deadline = time.monotonic() + 30
    while ray.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ray.available_resources().get("CPU", 0) == 2  # no task holds a CPU any more
    assert not (tmp_path / "results" / "runs").exists()


def test_a_models_shards_fold_into_one_bar():
    from engine.distributed.progress import _per_model

    reports = {"0/0": ("scoring photos", 5, 10), "0/1": ("scoring photos", 3, 9), "1/0": ("loading the model", 0, 0)}
    assert _per_model(reports) == {0: ("scoring photos", 8, 19), 1: ("loading the model", 0, 0)}


def test_eval_with_ray_writes_the_runs_and_says_where(cluster, models, dataset_dir, tmp_path, capsys):
    from engine.cli import main

    argv = ["eval", "--model", models["resnet"], "--model", models["bad"], "--data", str(dataset_dir), "--ray"]
    argv += ["--results", str(tmp_path / "results"), "--cache", str(tmp_path / "cache"), "--device", "cpu"]
    assert main(argv) == 2  # one model failed
    out = capsys.readouterr().out
    assert "written to" in out and "on 127.0.0.1/" in out and "bad.pt: failed: " in out
    assert len(list((tmp_path / "results" / "runs").iterdir())) == 1
