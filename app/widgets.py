"""Controls shared by several pages."""

from __future__ import annotations

import streamlit as st

from app import data, queries

SETUP_LABELS = {"1vs1000": "1 vs 1000", "1vs20": "1 vs 20"}
VARIANT_LABELS = {
    "default": "Paper protocol",
    "openai_80_prompt_ensemble": "80-prompt ensemble (Table 10)",
    "unbalanced_accuracy": "Unbalanced accuracy (Tables 11-12)",
    "alt_checkpoint": "Alternative checkpoints (Table 9)",
}


def setup_and_variant() -> tuple[str, str]:
    """Setup (candidate labels) and published variant pickers, shared by the pages; returns their values."""
    left, right = st.columns([1, 1])
    setup = left.radio(
        "Candidate labels",
        data.query(queries.setups),
        format_func=lambda s: SETUP_LABELS.get(s, s),
        horizontal=True,
        key="setup",
        help="1 vs 1000: all ImageNet classes compete. 1 vs 20: only the 20 labels most confusable with the class.",
    )
    variant = right.selectbox(
        "Variant",
        data.query(queries.variants, setup=setup),
        format_func=lambda v: VARIANT_LABELS.get(v, v),
        key="variant",
    )
    return setup, variant
