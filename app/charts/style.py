"""The charts' shared look: an Okabe-Ito palette, the font, axis ticks, and how a drop is written."""

from __future__ import annotations

from app.trends import HIGH_QUALITY_GROUP

# Okabe-Ito: a palette that stays distinguishable for colour-blind viewers and on projectors.
COMMON_COLOR = "#0072B2"  # blue
COUNTER_COLOR = "#E69F00"  # orange
# ImageNet models' bars next to CLIP's (Scaling, CLIP vs ImageNet): other hues, hatched, so the families stay apart.
IMAGENET_COMMON_COLOR = "#56B4E9"  # sky blue
IMAGENET_COUNTER_COLOR = "#D55E00"  # vermillion, the ImageNet family's colour elsewhere
TREND_COLORS = {"CLIP": "#0072B2", HIGH_QUALITY_GROUP: "#009E73", "ImageNet": "#D55E00", "LVLM": "#CC79A7"}
FAMILY_SYMBOLS = {"CLIP": "circle", "ImageNet": "square", "LVLM": "diamond"}
FAMILY_COLORS = {"ImageNet": "#D55E00", "LVLM": "#CC79A7"}  # CLIP points are shaded by data size instead
FONT = {"family": "Inter, Helvetica, Arial, sans-serif", "size": 15}

# CLIP marker colour: log10 of pre-training pairs (millions), on a fixed range so colours mean the same in every view.
DATA_SIZE_TICKS = {"1M": 1, "10M": 10, "100M": 100, "400M": 400, "1B": 1000, "2B": 2000, "5B": 5000}
ACCURACY_TICKS = [1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99]  # percent, for probit/logit axes


def accuracy_change(drop: float, decimals: int) -> str:
    """A drop written as the change it is: 23.3 -> "−23.3" (typographic minus), -1.2 -> "+1.2", 0.04 -> "0.0"."""
    text = f"{-drop:+.{decimals}f}"
    if float(text) == 0:  # a change that rounds to nothing has no sign ("−0.0" would read as a drop)
        text = text[1:]
    return text.replace("-", "−")
