"""CounterAnimal Explorer engine: evaluation and storage. Never imports streamlit or the app.

Torch-free (the app may import these): `runs` (the run format, writer, DuckDB views), `dataset`, `zoo`, `jobs`,
`config`, `errors`, `files`. Torch: `models` (loaders), `inference` (image cache, scorers, evaluator). `cli` is the
shell over both. An import-linter contract (pyproject.toml) keeps these layers apart.
"""

import os

__version__ = "0.1.0"

# How every engine process runs torch, set before torch is first imported (OpenMP reads it once, at load); a
# setting of the user's own wins. The engine decodes photos in threads while torch computes on the same cores, and
# OpenMP threads that busy-wait between torch's parallel regions (its default) take those cores from decoding: one
# model on a cold cache ran up to 1.2x slower (bench/eval_throughput.py). Predictions do not change (how threads wait is
# not arithmetic). The CLI, job processes and Ray workers all import `engine` before torch.
PROCESS_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}
for _name, _value in PROCESS_ENV.items():
    os.environ.setdefault(_name, _value)
