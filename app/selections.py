"""Row selections the pages make on query results (filters, scaling comparisons). Pure pandas; no Streamlit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from app.trends import BAND_LEVEL, Trend, describe_fit
from engine.runs.format import SETUP_LABELS, SETUPS


def filter_points(
    points: pd.DataFrame, families: Sequence[str], backbones: Sequence[str], data: Sequence[str]
) -> pd.DataFrame:
    """Keep the models matching every non-empty filter (an empty filter keeps everything)."""
    keep = pd.Series(True, index=points.index)
    for column, wanted in (("family", families), ("backbone", backbones), ("pretrain_data", data)):
        if wanted:
            keep &= points[column].isin(wanted)
    return points[keep]


def values_shared_by(points: pd.DataFrame, column: str, at_least: int = 2) -> list[str]:
    """Values of `column` that at least `at_least` models have, most common first (ties by name)."""
    counts = points[column].dropna().value_counts()
    counts = counts[counts >= at_least]
    return sorted(counts.index, key=lambda v: (-counts[v], v))


def _unique(labels: pd.Series, names: pd.Series) -> pd.Series:
    """Bars need distinct categories: a label two models share gets the model's name added."""
    shared = labels.duplicated(keep=False)
    return labels.where(~shared, labels + " · " + names)


def same_data(points: pd.DataFrame, pretrain_data: str) -> pd.DataFrame:
    """CLIP models trained on one dataset, smallest backbone first, labelled by backbone."""
    rows = points[(points["family"] == "CLIP") & (points["pretrain_data"] == pretrain_data)]
    rows = rows.sort_values(["params_m", "name"])
    return rows.assign(label=_unique(rows["backbone"], rows["name"]))


def same_backbone(points: pd.DataFrame, backbone: str) -> pd.DataFrame:
    """CLIP models with one backbone, smallest pre-training data first, labelled by their data."""
    rows = points[(points["family"] == "CLIP") & (points["backbone"] == backbone)]
    rows = rows.sort_values(["pretrain_pairs_m", "pretrain_data"])
    return rows.assign(label=_unique(rows["pretrain_data"] + " (" + rows["pretrain_size"] + ")", rows["name"]))


def clip_vs_imagenet(points: pd.DataFrame) -> pd.DataFrame:
    """CLIP and ImageNet models on the backbones both families have, grouped by backbone (smallest backbone first),
    ImageNet first within a group, labelled by model."""
    clip, imagenet = (set(points.loc[points["family"] == f, "backbone"]) for f in ("CLIP", "ImageNet"))
    rows = points[points["backbone"].isin(clip & imagenet) & points["family"].isin(["CLIP", "ImageNet"])]
    group_size = rows.groupby("backbone")["params_m"].transform("min")
    rows = rows.assign(_group=group_size, _clip=rows["family"] == "CLIP")
    rows = rows.sort_values(["_group", "backbone", "_clip", "pretrain_pairs_m", "name"]).drop(
        columns=["_group", "_clip"]
    )
    label = rows["backbone"] + " · " + rows["family"].where(rows["family"] == "ImageNet", rows["pretrain_data"])
    return rows.assign(label=_unique(label, rows["name"]))


def in_order_of(rows: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """`rows` reordered to follow the classes of `reference` (classes it lacks go last)."""
    rank = {class_id: i for i, class_id in enumerate(reference["class_id"])}
    return rows.sort_values("class_id", key=lambda ids: ids.map(rank).fillna(len(rank)), kind="stable")


# Footnotes for the `flag` values of the published tables (results/paper/README.md lists the flagged rows).
FLAG_NOTES = {
    "drop_as_printed": "printed drop ≠ common − counter",
    "counter_as_printed": "printed counter is probably a typo (the paper's drop fits a corrected counter)",
    "copy_of_single_prompt": "likely copy error: repeats the single-prompt row exactly; left out of trends",
    "near_chance": "at or below chance (0.1%): likely a failed evaluation; left out of trends",
}
# Flags of published rows that are drawn but not fitted by default: their printed numbers are probably not a
# measurement of the model (see results/paper/README.md).
UNFITTED_FLAGS = ("copy_of_single_prompt", "near_chance")


def rows_to_fit(points: pd.DataFrame, include_flagged: bool) -> pd.Series:
    """True for the published rows trend lines are fitted to: all of them, or all but the doubtful flagged ones."""
    if include_flagged:
        return pd.Series(True, index=points.index)
    return ~points["flag"].isin(UNFITTED_FLAGS)


def overview_intro(variant: str) -> str:
    """The Overview's first caption: what a point is, in the metric of the variant shown."""
    metric = "plain per-image accuracy" if variant == "unbalanced_accuracy" else "class-balanced accuracy"
    return (
        f"Each point is a model: {metric} on photos with the class's common background (x) and with its counter "
        "background (y). Below the dashed y = x line, a model loses accuracy when the background changes."
    )


def trend_sizes(trends: Mapping[str, Trend]) -> str:
    """'the 20 CLIP and 15 ImageNet models fitted': how many published models each trend line was fitted to."""
    if not trends:
        return "no trend: too few models"
    counts = [f"{trend.n} {group}" for group, trend in trends.items()]
    listed = counts[0] if len(counts) == 1 else ", ".join(counts[:-1]) + " and " + counts[-1]
    return f"the {listed} models fitted"


def fit_statistics_lines(trends: Mapping[str, Trend], scale: str) -> list[str]:
    """What the Overview's "Fit statistics" add to its captions: one line on the fits, then one per trend
    ("CLIP trend: slope 0.95, intercept −0.42, R² 0.93, n = 28"); no line ends in a full stop, so the page can run
    them together with semicolons and the export put each on its own line."""
    if not trends:
        return ["Fit statistics: no trend shown"]
    head = f"Trends fitted in {scale} axis space, shaded: the {BAND_LEVEL:.0%} confidence band of each line"
    return [head, *(f"{group} trend: {describe_fit(trend)}" for group, trend in trends.items())]


def fitted_common_ranges(points: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """Per trend group, the lowest and highest common accuracy (%) of the published rows its trend was fitted to."""
    if "trend_group" not in points:
        return {}
    fitted = points[points["in_trend"].astype(bool)] if "in_trend" in points else points
    spans = fitted.groupby("trend_group")["common"].agg(["min", "max"])
    return {group: (float(lo), float(hi)) for group, lo, hi in spans.itertuples()}


def outside_fitted_range(rows: pd.DataFrame, ranges: Mapping[str, tuple[float, float]]) -> pd.Series:
    """True where a row's common accuracy lies outside the range its trend was fitted on, so its effective robustness
    is an extrapolation of the line (False where the row has no fitted trend)."""
    lo = rows["trend_group"].map(lambda group: ranges.get(group, (np.nan, np.nan))[0]).astype(float)
    hi = rows["trend_group"].map(lambda group: ranges.get(group, (np.nan, np.nan))[1]).astype(float)
    return ((rows["common"] < lo) | (rows["common"] > hi)).astype(bool)


def extrapolation_note(group: str, ranges: Mapping[str, tuple[float, float]]) -> str:
    """The words for an effective robustness read off the trend line outside its fitted range."""
    lo, hi = ranges[group]
    return f"eff. robustness extrapolated: common outside the {lo:.0f}-{hi:.0f}% the {group} trend was fitted on"


def _notes(table: pd.DataFrame, ranges: Mapping[str, tuple[float, float]]) -> pd.Series:
    """Each row's footnotes: its flag's, and the extrapolation of its effective robustness."""
    flags = table["flag"].map(FLAG_NOTES).fillna("") if "flag" in table else pd.Series("", index=table.index)
    extrapolated = [
        extrapolation_note(group, ranges) if outside else ""
        for group, outside in zip(table["trend_group"], table["ER extrapolated"], strict=True)
    ]
    return pd.Series(["; ".join(n for n in pair if n) for pair in zip(flags, extrapolated, strict=True)], table.index)


def overview_table(
    points: pd.DataFrame,
    runs: pd.DataFrame | None = None,
    ranges: Mapping[str, tuple[float, float]] | None = None,
) -> pd.DataFrame:
    """The Overview's table (and CSV): one row per published model and per run evaluated here, with scores,
    effective robustness (flagged where it extrapolates past `ranges`, by default those of `points`) and trend
    group."""
    ranges = fitted_common_ranges(points) if ranges is None else ranges
    rows = [points.assign(source="paper", run_id="")]
    if runs is not None and len(runs):
        rows.append(runs.assign(source="evaluated here"))
    table = pd.concat(rows, ignore_index=True)
    table = table.assign(**{"ER extrapolated": outside_fitted_range(table, ranges)})
    table = table.assign(note=_notes(table, ranges))
    columns = {
        "name": "model",
        "source": "source",
        "model_id": "model_id",
        "family": "family",
        "backbone": "backbone",
        "params_m": "params (M)",
        "pretrain_data": "data",
        "common": "common",
        "counter": "counter",
        "drop": "drop",
        "effective_robustness": "eff. robustness",
        "ER extrapolated": "ER extrapolated",
        "trend_group": "trend",
        "note": "note",
        "run_id": "run_id",
    }
    return table[list(columns)].rename(columns=columns).reset_index(drop=True)


INTERVAL_BOUNDS = [f"{metric} 95% {end}" for metric in ("common", "counter", "drop") for end in ("low", "high")]


def runs_table(
    runs: pd.DataFrame, paper: pd.DataFrame, ranges: Mapping[str, tuple[float, float]] | None = None
) -> pd.DataFrame:
    """The evaluated runs: scores with their 95% intervals (as text, and as numbers in `INTERVAL_BOUNDS`), effective
    robustness (flagged where it extrapolates past `ranges`, by default those of `paper`), and the reproduction gap
    (run minus paper, points) where the paper reports the same model in the same setup and variant."""
    ranges = fitted_common_ranges(paper) if ranges is None else ranges
    published = paper.set_index("model_id")[["common", "counter", "drop"]].add_prefix("paper ")
    table = runs.join(published, on="model_id")
    table["ER extrapolated"] = outside_fitted_range(table, ranges) if "trend_group" in table else False
    for metric in ("common", "counter", "drop"):
        table[f"gap {metric}"] = table[metric] - table[f"paper {metric}"]
        for end in ("low", "high"):
            table[f"{metric} 95% {end}"] = table.get(f"{metric}_{end}", pd.Series(dtype=float)).reindex(table.index)
        table[f"{metric} 95% CI"] = [
            f"{low:.1f} to {high:.1f}" if pd.notna(low) else ""
            for low, high in zip(table[f"{metric} 95% low"], table[f"{metric} 95% high"], strict=True)
        ]
    columns = ["name", "family", "images", "common", "common 95% CI", "counter", "counter 95% CI", "drop"]
    columns += ["drop 95% CI", "effective_robustness", "ER extrapolated", "paper common", "paper counter"]
    columns += ["paper drop", "gap common", "gap counter", "gap drop", "protocol", "run_id", "model_id"]
    columns += INTERVAL_BOUNDS
    return table[columns].rename(columns={"name": "model", "effective_robustness": "eff. robustness"})


def for_display(table: pd.DataFrame, decimals: int = 2) -> pd.DataFrame:
    """A table as a grid shows it without the literal "None" it prints for missing values: missing text is blank,
    and a number column with gaps becomes text (`decimals` places, blank where missing)."""
    shown = table.copy()
    for column in shown.columns:
        values = shown[column]
        if not values.isna().any():
            continue
        if pd.api.types.is_float_dtype(values):
            shown[column] = [f"{v:.{decimals}f}" if pd.notna(v) else "" for v in values]
        else:
            shown[column] = values.astype(object).where(values.notna(), "")
    return shown


def number_columns(shown: pd.DataFrame, names: Sequence[str], config) -> dict:
    """A grid's `column_config` giving `config` (a number format) to those of `names` that `for_display` left numbers:
    a column it made text (it had gaps) would show each blank as "None" under a number format."""
    return {name: config for name in names if name in shown and pd.api.types.is_numeric_dtype(shown[name])}


def _other_setups(setups: Sequence[str]) -> str:
    return " and ".join(SETUP_LABELS[s] for s in SETUPS if s in set(setups)) or "no setup"


def missing_setups_note(name: str, family: str, setups: Sequence[str]) -> str:
    """Why a run has no answers in some setup ("" when it has all): a vision-language model is scored in 1 vs 20
    only; another run was made for fewer setups (`counteranimal eval --setups`)."""
    missing = [SETUP_LABELS[s] for s in SETUPS if s not in set(setups)]
    if not missing:
        return ""
    why = "vision-language models are scored in" if family == "LVLM" else "it was evaluated in"
    return f"{name} has no {' or '.join(missing)} answers: {why} {_other_setups(setups)} only."


def absent_runs_note(runs: pd.DataFrame, setup: str) -> str:
    """Why runs evaluated here are not in a setup's view ("" when all are), and where to see them. `runs`: the run
    list (`family`, `setups`)."""
    if runs.empty:
        return ""
    lacking = runs[[setup not in set(found) for found in runs["setups"]]]
    lvlm = lacking["family"] == "LVLM"
    notes = (
        _absent(lacking[lvlm], setup, "vision-language run", ("is scored", "are scored")),
        _absent(lacking[~lvlm], setup, "run", ("was evaluated", "were evaluated")),
    )
    return " ".join(note for note in notes if note)


def _absent(rows: pd.DataFrame, setup: str, noun: str, verbs: tuple[str, str]) -> str:
    """ "2 runs were evaluated in 1 vs 20 only, so they have no 1 vs 1000 answers ...": `verbs` singular, plural."""
    if rows.empty:
        return ""
    one = len(rows) == 1
    others = _other_setups({s for found in rows["setups"] for s in found})
    return (
        f"{len(rows)} {noun}{'' if one else 's'} {verbs[0] if one else verbs[1]} in {others} only, so "
        f"{'it has' if one else 'they have'} no {SETUP_LABELS[setup]} answers to show here: choose {others} to see "
        f"{'it' if one else 'them'}."
    )
