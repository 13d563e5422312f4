"""What the Overview's points say on hover: scores with units, parameters, effective robustness, pre-training data."""

from __future__ import annotations

import numpy as np
import pandas as pd

SCORES_HOVER = (
    "<br>common: %{customdata[3]:.2f}%<br>counter: %{customdata[4]:.2f}%<br>drop: %{customdata[5]:.2f} points"
    "<br>effective robustness: %{customdata[8]}<extra></extra>"
)


def params_label(rows: pd.DataFrame) -> pd.Series:
    """'86 M parameters', or 'parameters unknown'."""
    params = rows["params_m"] if "params_m" in rows else pd.Series(np.nan, index=rows.index)
    return params.map(lambda p: f"{p:,.0f} M parameters" if pd.notna(p) else "parameters unknown")


def er_label(rows: pd.DataFrame) -> pd.Series:
    """'+1.2 points' against the model's trend, or 'no trend' where none was fitted."""
    er = rows["effective_robustness"] if "effective_robustness" in rows else pd.Series(np.nan, index=rows.index)
    return er.map(lambda v: f"{v:+.1f} points" if pd.notna(v) else "no trend")


def data_label(rows: pd.DataFrame) -> pd.Series:
    """'LAION2B (2B)'; just 'ImageNet-1K' where the size only repeats the name."""
    data, size = rows["pretrain_data"].fillna(""), rows["pretrain_size"].fillna("")
    same = size.str.lower() == data.str.lower()
    return data.where(same | (size == ""), data + " (" + size + ")")
