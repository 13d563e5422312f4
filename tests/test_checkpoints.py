"""Weight files: every supported form loads; unsafe, broken and mismatched files are refused in plain words."""

import pickle

import pytest
import torch
from safetensors.torch import save_file

from engine.models.checkpoints import CheckpointError, load_weights, read_state_dict


def small_net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))


@pytest.fixture
def weights():
    return small_net().state_dict()


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".bin", ".ckpt"])
def test_bare_state_dict_loads_from_any_torch_suffix(tmp_path, weights, suffix):
    path = tmp_path / f"w{suffix}"
    torch.save(weights, path)
    assert read_state_dict(path).keys() == weights.keys()


def test_safetensors_load(tmp_path, weights):
    path = tmp_path / "w.safetensors"
    save_file(weights, str(path))
    assert torch.equal(read_state_dict(path)["0.weight"], weights["0.weight"])


def test_training_checkpoint_wrapper_and_ddp_prefixes_are_unwrapped(tmp_path, weights):
    path = tmp_path / "epoch_32.pt"
    torch.save({"epoch": 32, "state_dict": {f"module.{k}": v for k, v in weights.items()}}, path)
    assert read_state_dict(path).keys() == weights.keys()


def test_loaded_weights_equal_the_saved_ones(tmp_path, weights):
    path = tmp_path / "w.pt"
    torch.save(weights, path)
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    digest = load_weights(net, path, "tiny MLP")
    assert torch.equal(net.state_dict()["2.bias"], weights["2.bias"]) and len(digest) == 64


def test_wrong_architecture_names_missing_and_unexpected_keys(tmp_path, weights):
    path = tmp_path / "w.pt"
    torch.save({**{k: v for k, v in weights.items() if k != "2.bias"}, "head.weight": torch.zeros(1)}, path)
    with pytest.raises(
        CheckpointError, match=r"does not fit the tiny MLP.*missing keys: 2\.bias.*unexpected keys: head"
    ):
        load_weights(small_net(), path, "tiny MLP")


def test_shape_mismatch_is_named(tmp_path, weights):
    path = tmp_path / "w.pt"
    torch.save({**weights, "0.weight": torch.zeros(5, 4)}, path)
    with pytest.raises(CheckpointError, match=r"0\.weight \(checkpoint \(5, 4\), model \(3, 4\)\)"):
        load_weights(small_net(), path, "tiny MLP")


class CreatesFile:
    """Unpickling this runs code: it creates a file (the attack a checkpoint must never be able to do)."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (str(self.target), "w"))


@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
@pytest.mark.parametrize("force_unsafe", [None, "1"], ids=["torch default", "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1"])
def test_a_pickle_that_would_run_code_is_refused_and_does_not_run(tmp_path, monkeypatch, writer, force_unsafe):
    # The variable turns torch.load's default to unpickling anything (as in older torch); the refusal must not rest on
    # that default.
    if force_unsafe:
        monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", force_unsafe)
    else:
        monkeypatch.delenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", raising=False)
    target = tmp_path / "pwned.txt"
    path = tmp_path / "evil.pt"
    if writer == "torch.save":
        torch.save({"weight": CreatesFile(target)}, path)
    else:
        with path.open("wb") as f:
            pickle.dump({"weight": CreatesFile(target)}, f)
    with pytest.raises(CheckpointError, match="was refused"):
        read_state_dict(path)
    assert not target.exists()


def test_truncated_file_is_reported(tmp_path, weights):
    path = tmp_path / "w.pt"
    torch.save(weights, path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="not a readable PyTorch weight file"):
        read_state_dict(path)


def test_random_bytes_are_reported(tmp_path):
    path = tmp_path / "w.safetensors"
    path.write_bytes(bytes(range(256)) * 10)
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        read_state_dict(path)


def test_a_file_without_tensors_is_not_weights(tmp_path):
    path = tmp_path / "config.pt"
    torch.save({"lr": 0.1, "epochs": 3}, path)
    with pytest.raises(CheckpointError, match="holds no tensors"):
        read_state_dict(path)


def test_a_folder_given_as_weights_is_called_a_folder(tmp_path):
    with pytest.raises(CheckpointError, match=r"is a folder: give the weight file in it"):
        read_state_dict(tmp_path)
