"""`python:MODULE:FUNCTION[@CHECKPOINT]`: a model from the user's own code, evaluated as the built-in loaders' are."""

import json

import pyarrow.parquet as pq
import pytest
import torch

from engine.dataset.reader import load_dataset
from engine.files import digest, sha256_file
from engine.inference.evaluator import EvalOptions, Evaluator
from engine.models import CheckpointError, ModelError, load_model, model_recipe, parse_spec
from engine.zoo.specs import display_name
from tests.conftest import REPO, TINY_CLIP

MODULE = "tests.python_spec_models"
MODULE_FILE = REPO / "tests" / "python_spec_models.py"


def evaluator(dataset_dir, tmp_path) -> Evaluator:
    options = EvalOptions(
        results=tmp_path / "results", cache=tmp_path / "cache", device=torch.device("cpu"), workers=1, batch_size=7,
        progress=False,
    )  # fmt: skip
    return Evaluator(load_dataset(dataset_dir), options)


def predictions(outcome) -> dict:
    """A run's predictions, column by column."""
    return pq.read_table(outcome.path / "predictions.parquet").to_pydict()


def test_a_python_model_predicts_as_the_same_network_loaded_by_timm(dataset_dir, tmp_path, tiny_timm):
    with evaluator(dataset_dir, tmp_path) as run:
        mine = run.evaluate(f"python:{MODULE}:tiny_resnet@{tiny_timm}")
        builtin = run.evaluate(f"timm:test_resnet@{tiny_timm}")
    assert mine.run_id != builtin.run_id
    assert predictions(mine) == predictions(builtin)  # same ids, top-5, scores and probabilities, both setups


def test_without_a_checkpoint_the_function_s_own_weights_are_evaluated(dataset_dir, tmp_path, tiny_timm):
    # tiny_resnet seeds torch as the tiny_timm fixture did: its own weights are the file's.
    with evaluator(dataset_dir, tmp_path) as run:
        mine = run.evaluate(f"python:{MODULE}:tiny_resnet")
        builtin = run.evaluate(f"timm:test_resnet@{tiny_timm}")
    assert predictions(mine) == predictions(builtin)


def test_a_python_run_records_the_code_and_weights_hashes_and_reruns_are_skipped(dataset_dir, tmp_path, tiny_timm):
    spec = f"python:{MODULE}:tiny_resnet@{tiny_timm}"
    with evaluator(dataset_dir, tmp_path) as run:
        first, again = run.evaluate(spec), run.evaluate(spec)
    manifest = json.loads((first.path / "run.json").read_text())
    checkpoint = manifest["model"]["checkpoint"]
    assert checkpoint["code"] == [str(MODULE_FILE.resolve())]
    assert checkpoint["config_sha256"] == digest([sha256_file(MODULE_FILE)])
    assert checkpoint["sha256"] == sha256_file(tiny_timm) and manifest["model"]["family"] == "ImageNet"
    assert manifest["identity"]["model"] == f"python:{MODULE}:tiny_resnet@file"
    assert (again.skipped, again.run_id) == (True, first.run_id)


def test_a_python_clip_model_predicts_as_open_clip_loads_it(dataset_dir, tmp_path, tiny_clip):
    with evaluator(dataset_dir, tmp_path) as run:
        mine = run.evaluate(f"python:{MODULE}:tiny_clip@{tiny_clip}")
        builtin = run.evaluate(f"open_clip:{TINY_CLIP}@{tiny_clip}")
    assert json.loads((mine.path / "run.json").read_text())["model"]["family"] == "CLIP"
    assert predictions(mine) == predictions(builtin)


def test_a_py_file_path_works_as_the_module(tiny_timm):
    model = load_model(f"python:{MODULE_FILE}:tiny_resnet@{tiny_timm}", torch.device("cpu"))
    assert model.family == "ImageNet" and model.checkpoint["sha256"] == sha256_file(tiny_timm)
    assert parse_spec(f"python:{MODULE_FILE}:tiny_resnet").without_file() == "python:python_spec_models.py:tiny_resnet"
    shown = display_name(f"python:{MODULE_FILE}:tiny_resnet@{tiny_timm}")
    assert shown == "python_spec_models.py:tiny_resnet · test_resnet"


def test_the_recipe_is_known_before_the_model_loads():
    assert model_recipe(f"python:{MODULE}:tiny_resnet").key == model_recipe("timm:test_resnet").key


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("python:no_such_package.models:build", "no module 'no_such_package.models' in the current folder"),
        (f"python:{MODULE}:build_it", "has no function 'build_it' (it has: "),
        ("python:/nowhere/net.py:build", "/nowhere/net.py is not a file"),
        (f"python:{MODULE}:only_a_network", "only_a_network() returned Linear, not a dict"),
        (f"python:{MODULE}:no_preprocessing", '"preprocess" is str, not a torchvision transforms.Compose'),
        (f"python:{MODULE}:twelve_classes", "to (1, 12); an ImageNet classifier gives (1, 1000) logits"),
        (f"python:{MODULE}:broken", "broken() raised RuntimeError at "),
        ("python:tests.python_spec_models", "is not a python: spec. Write it as python:MODULE:FUNCTION"),
    ],
)
def test_a_python_spec_that_cannot_be_used_is_refused_in_words(spec, message):
    with pytest.raises(ModelError) as refused:
        load_model(spec, torch.device("cpu"))
    assert message in str(refused.value)


def test_a_wrong_checkpoint_is_refused_by_the_fit_report(tmp_path, tiny_clip):
    with pytest.raises(CheckpointError, match="does not fit the tests.python_spec_models:tiny_resnet architecture"):
        load_model(f"python:{MODULE}:tiny_resnet@{tiny_clip}", torch.device("cpu"))


def test_eval_takes_a_python_spec_from_the_terminal(capsys, tmp_path, dataset_dir, tiny_timm):
    from engine import cli

    spec = f"python:{MODULE}:tiny_resnet@{tiny_timm}"
    args = ["eval", "--model", spec, "--data", str(dataset_dir), "--results", str(tmp_path / "r")]
    args += ["--cache", str(tmp_path / "c"), "--workers", "1", "--device", "cpu"]
    assert cli.main(args) == 0
    assert "written to" in capsys.readouterr().out


def test_a_decorated_builder_is_identified_by_the_users_file_not_the_decorators(dataset_dir, tmp_path):
    with evaluator(dataset_dir, tmp_path) as run:
        outcome = run.evaluate(f"python:{MODULE}:cached_resnet")
    checkpoint = json.loads((outcome.path / "run.json").read_text())["model"]["checkpoint"]
    assert checkpoint["code"] == [str(MODULE_FILE.resolve())]
