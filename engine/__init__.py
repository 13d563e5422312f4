"""CounterAnimal Explorer engine: evaluation and storage. Never imports streamlit or the app.

Torch-free (the app may import these): `runs` (the run format, writer, DuckDB views), `dataset`, `zoo`, `jobs`,
`config`, `errors`, `files`. Torch: `models` (loaders), `inference` (image cache, scorers, evaluator). `cli` is the
shell over both. An import-linter contract (pyproject.toml) keeps these layers apart.
"""

__version__ = "0.1.0"
