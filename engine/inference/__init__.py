"""Inference: the decode-once image cache, class names and prompts, CLIP text heads, scorers that turn cached pixels
into per-image predictions in the run format, the evaluator, and the demo. Imports torch; only the CLI imports it (its
`eval`, `candidates build`, `demo` and `job run`, the process of a queued job)."""
