"""On a CUDA device (deselected by default; run with `pytest -m gpu` on a GPU machine)."""

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from engine.dataset.reader import load_dataset
from engine.inference.evaluator import EvalOptions, Evaluator
from tests.conftest import TINY_CLIP

pytestmark = pytest.mark.gpu


def predictions(device: str, dataset_dir, tmp_path, spec):
    options = EvalOptions(tmp_path / device, tmp_path / "cache", torch.device(device), workers=1, progress=False)
    with Evaluator(load_dataset(dataset_dir), options) as evaluator:
        return pq.read_table(evaluator.evaluate(spec).path / "predictions.parquet").to_pandas().set_index("image_id")


def test_bf16_on_cuda_agrees_with_fp32_on_the_cpu(dataset_dir, tmp_path, tiny_clip, tiny_timm):
    assert torch.cuda.is_available(), "this test needs a CUDA device"
    for spec in (f"open_clip:{TINY_CLIP}@{tiny_clip}", f"timm:test_resnet@{tiny_timm}"):
        cpu, gpu = (predictions(d, dataset_dir, tmp_path, spec) for d in ("cpu", "cuda"))
        assert (cpu["pred_1vs1000"] == gpu.loc[cpu.index, "pred_1vs1000"]).mean() >= 0.9, spec
        diff = np.abs(np.stack(cpu["top5_scores"]) - np.stack(gpu.loc[cpu.index, "top5_scores"]))
        assert diff.max() < 0.05, spec
