"""Runs: the run format (setups, the predictions schema, run.json), the atomic run writer and the DuckDB views over
a results folder. Torch-free: the app reads runs through this package."""
