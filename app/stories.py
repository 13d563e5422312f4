"""Story presets: named sequences of views (a page and its choices) to step through in a meeting. Data, not code:
`app/stories.toml` ships one; `<results>/stories.toml` adds a group's own."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

BUILT_IN = Path(__file__).with_name("stories.toml")
LATEST_RUN = "@latest_run"


@dataclass(frozen=True)
class Step:
    title: str
    page: str  # URL path of the page; "" is the Overview
    params: dict[str, str]  # as in a shared link
    needs_run: bool = False


@dataclass(frozen=True)
class Story:
    name: str
    steps: tuple[Step, ...]


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
        steps.append(Step(step.title, step.page, params, step.needs_run))
    return steps
