"""Story presets: named sequences of views (a page and its choices) to step through in a meeting. Data, not code:
`app/stories.toml` ships one; `<results>/stories.toml` adds a group's own.

A step whose title states a direction ("CLIP models lose more ...") carries `claims` that say it in a form the
published numbers can check (`check_claim`), so a headline cannot drift from the data it shows."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from app.trends import SCALES, place_on_trends

BUILT_IN = Path(__file__).with_name("stories.toml")
LATEST_RUN = "@latest_run"
# Link parameters that are not choices of a view: a story step leaves them as they are.
NOT_A_CHOICE = ("present",)

# Groups of published models a claim compares, by name: model rows (as `queries.model_scores` returns them) -> mask.
GROUPS = {
    "CLIP": lambda m: m["family"] == "CLIP",
    "ImageNet": lambda m: m["family"] == "ImageNet",
    "curated CLIP": lambda m: (m["family"] == "CLIP") & m["high_quality_data"].astype(bool),  # DataComp, DFN
    "other CLIP": lambda m: (m["family"] == "CLIP") & ~m["high_quality_data"].astype(bool),
}
# What a claim compares: a column of the model rows (points), or effective robustness against the model's family
# trend (points), checked in every axis scale, since its sign can depend on the scale.
METRICS = ("common", "counter", "drop", "effective_robustness")


@dataclass(frozen=True)
class Claim:
    """A direction a step's title states, in one of two forms: the mean `metric` of group `higher` exceeds that of
    group `lower`; or the mean `metric` of `group` lies within `within` points of zero."""

    metric: str
    higher: str = ""
    lower: str = ""
    group: str = ""
    within: float = 0.0  # points


@dataclass(frozen=True)
class Step:
    title: str
    page: str  # URL path of the page; "" is the Overview
    params: dict[str, str]  # as in a shared link
    needs_run: bool = False
    claims: tuple[Claim, ...] = ()  # checked against the published numbers of the step's setup and variant


@dataclass(frozen=True)
class Story:
    name: str
    steps: tuple[Step, ...]

    @property
    def key(self) -> str:
        """The story in a link (`story=KEY`): its name in lower case, words joined by "-"."""
        return "-".join(re.findall(r"[a-z0-9]+", self.name.lower()))


def load_stories(results: Path) -> list[Story]:
    """The built-in stories, then the results folder's own (`stories.toml`), if any."""
    stories = []
    for path in (BUILT_IN, Path(results) / "stories.toml"):
        if path.is_file():
            with path.open("rb") as f:
                stories += [_story(entry) for entry in tomllib.load(f).get("story", [])]
    return stories


def _story(entry: dict) -> Story:
    steps = tuple(
        Step(
            s["title"],
            s.get("page", ""),
            {k: str(v) for k, v in s.get("params", {}).items()},
            s.get("needs_run", False),
            tuple(Claim(**c) for c in s.get("claims", [])),
        )
        for s in entry.get("step", [])
    )
    return Story(entry["name"], steps)


def playable(story: Story, latest_run: str | None) -> list[Step]:
    """The story's steps with "@latest_run" filled in; steps that need a run are left out when there is none."""
    steps = []
    for step in story.steps:
        if step.needs_run and latest_run is None:
            continue
        params = {k: v.replace(LATEST_RUN, latest_run or "") for k, v in step.params.items()}
        steps.append(dataclasses.replace(step, params=params))
    return steps


def story_by_key(stories: list[Story], key: str) -> Story:
    """The story a link names (`story=KEY`); ValueError with a notice to show when there is none."""
    story = next((s for s in stories if s.key == key), None)
    if story is None:
        raise ValueError(f"Ignored `story={key}`: no such story (there are: {', '.join(s.key for s in stories)}).")
    return story


def step_index(number: str, count: int) -> int:
    """The index (from 0) of the step a link names (`step=K`, K from 1 over the `count` steps shown); ValueError with
    a notice to show when there is no such step."""
    if not number.isdigit() or not 1 <= int(number) <= count:
        raise ValueError(f"Ignored `step={number}`: the story shows steps 1 to {count}.")
    return int(number) - 1


def unset_keys(step: Step, page_keys: list[str]) -> list[str]:
    """The choices of the step's page (`page_keys`) that the step does not set: they go back to their defaults, so a
    step shows the same view whichever step came before."""
    return [key for key in page_keys if key not in step.params and key not in NOT_A_CHOICE]


def _group_means(models: pd.DataFrame, claim: Claim, scale: str) -> dict[str, float]:
    if claim.metric == "effective_robustness":
        models, _, _ = place_on_trends(models, models.iloc[:0], scale, split_high_quality=False)
    names = [name for name in (claim.higher, claim.lower, claim.group) if name]
    means = {name: float(models.loc[GROUPS[name](models), claim.metric].mean()) for name in names}
    if any(np.isnan(list(means.values()))):
        raise ValueError(f"a group of {claim} has no published model")
    return means


def check_claim(models: pd.DataFrame, claim: Claim) -> bool:
    """Whether the published models (one row each, as `queries.model_scores` returns them) bear the claim out."""
    named = {claim.higher, claim.lower, claim.group} - {""}
    one_form = bool(claim.group) != bool(claim.higher and claim.lower) and bool(claim.higher) == bool(claim.lower)
    if claim.metric not in METRICS or not named <= set(GROUPS) or not one_form:
        raise ValueError(
            f"{claim}: give higher and lower, or group and within; metrics: {METRICS}, groups: {list(GROUPS)}"
        )
    for scale in SCALES if claim.metric == "effective_robustness" else ("linear",):
        means = _group_means(models, claim, scale)
        holds = abs(means[claim.group]) <= claim.within if claim.group else means[claim.higher] > means[claim.lower]
        if not holds:
            return False
    return True
