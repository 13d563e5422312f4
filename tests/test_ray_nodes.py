"""Two Ray nodes on this machine, each with a cache folder of its own (as two machines would have): every image cache
is built once per node, not once per task, and the runs are those made in one process."""

import os
import secrets
import shutil

import pytest

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # Ray on 127.0.0.1 only
os.environ["RAY_AUTH_MODE"] = "token"  # with this test run's own token, given to every node by environment
os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))

from engine.dataset.reader import load_dataset  # noqa: E402
from engine.distributed import ClusterRequest, evaluate_on_cluster  # noqa: E402
from tests.test_ray import cluster_runs, options, serial_runs, short_temp_dir  # noqa: E402


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory):
    """A head node ("node_a") and a second node ("node_b") on 127.0.0.1, each with a cache folder of its own, and the
    driver connected to them; every process ended after, whatever happens.

    Ray's own multi-node test cluster: `ray start --address=127.0.0.1:PORT` refuses to join a second node under
    RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, and with "1" it trades 127.0.0.1 for the machine's network address."""
    import ray
    import torch
    from ray.cluster_utils import Cluster

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the nodes' one CPU each: one thread per model, here and on the workers
    root = tmp_path_factory.mktemp("nodes")
    sessions = short_temp_dir()  # Ray's socket paths must stay under 108 bytes
    cluster = Cluster(shutdown_at_exit=False)
    patch = pytest.MonkeyPatch()
    # Not /tmp/ray/ray_current_cluster: other Ray users of this machine would find this cluster as their "auto".
    patch.setattr(ray._private.utils, "write_ray_address", lambda *args, **kwargs: None)
    try:
        for name in ("node_a", "node_b"):
            cache = {"COUNTERANIMAL_CACHE": str(root / f"cache-{name}")}  # the node's raylet, and so its workers
            cluster.add_node(
                num_cpus=1, resources={name: 1}, env_vars=cache, include_dashboard=False, temp_dir=str(sessions)
            )
        ray.init(address=cluster.address, log_to_driver=False)
        yield root
    finally:
        ray.shutdown()
        cluster.shutdown()
        patch.undo()
        torch.set_num_threads(threads)
        shutil.rmtree(sessions, ignore_errors=True)


def test_each_node_builds_each_image_cache_once_and_the_runs_are_the_same(two_nodes, dataset_dir, tmp_path):
    import timm
    import torch
    from safetensors.torch import save_file

    specs = []
    for seed in range(4):  # four models of one recipe: more tasks than nodes, one image cache
        torch.manual_seed(seed)
        weights = tmp_path / f"resnet{seed}.safetensors"
        save_file(timm.create_model("test_resnet", pretrained=False).state_dict(), str(weights))
        specs.append(f"timm:test_resnet@{weights}")
    request = ClusterRequest(tuple(specs), device="cpu", show_progress=False)
    outcomes = evaluate_on_cluster(load_dataset(dataset_dir), options(tmp_path / "driver"), request)
    assert [o.error for o in outcomes] == [None] * 4
    assert len({node for o in outcomes for node in o.nodes}) == 2  # both nodes worked
    caches = [two_nodes / f"cache-{name}" / "images" for name in ("node_a", "node_b")]
    built_on_nodes = [len([p for p in folder.iterdir() if (p / "index.json").is_file()]) for folder in caches]
    assert built_on_nodes == [1, 1] and sum(len(o.built) for o in outcomes) == 2  # once per node, not per task
    assert cluster_runs(outcomes) == serial_runs(dataset_dir, tmp_path / "serial", specs)
