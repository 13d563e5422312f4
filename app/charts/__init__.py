"""Chart builders: pure functions DataFrame -> plotly Figure. No Streamlit; tested without it."""

from app.charts.comparisons import per_class_dumbbell, score_bars
from app.charts.overview import marker_size, overview_scatter
from app.charts.style import ACCURACY_TICKS, accuracy_change

__all__ = ["ACCURACY_TICKS", "accuracy_change", "marker_size", "overview_scatter", "per_class_dumbbell", "score_bars"]
