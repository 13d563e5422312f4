"""Progress of a cluster evaluation on the driver: workers send (stage, done, total) to one small actor, and the driver
draws one bar per model and an overall bar from what it holds."""

from __future__ import annotations

from collections.abc import Callable

from tqdm import tqdm

Listener = Callable[[str, str, int, int], None]  # (model spec, stage, done, total), e.g. a job's progress.json


class ProgressBoard:
    """The latest report of every part (a Ray actor; parts are keyed "model/shard")."""

    def __init__(self) -> None:
        self.reports: dict[str, tuple[str, int, int]] = {}

    def report(self, key: str, stage: str, done: int, total: int) -> None:
        self.reports[key] = (stage, done, total)

    def snapshot(self) -> dict[str, tuple[str, int, int]]:
        return dict(self.reports)


class Bars:
    """One bar per model (its current stage, its shards' photos summed) and an overall bar of models finished."""

    def __init__(self, specs: list[str], show: bool, listener: Listener | None = None) -> None:
        self.specs, self.listener = specs, listener
        self.overall = tqdm(total=len(specs), desc="models", unit="model", position=0, disable=not show)
        self.bars = [
            tqdm(total=0, desc=_short(spec), unit="img", position=i + 1, leave=True, disable=not show)
            for i, spec in enumerate(specs)
        ]
        self.seen: dict[int, tuple[str, int, int]] = {}

    def update(self, reports: dict[str, tuple[str, int, int]]) -> None:
        for index, (stage, done, total) in _per_model(reports).items():
            if self.seen.get(index) == (stage, done, total):
                continue
            self.seen[index] = (stage, done, total)
            bar = self.bars[index]
            bar.set_description_str(f"{_short(self.specs[index])}: {stage}", refresh=False)
            bar.total, bar.n = total, done
            bar.refresh()
            if self.listener:
                self.listener(self.specs[index], stage, done, total)

    def finish(self, index: int, status: str, complete: bool) -> None:
        """Mark a model finished: `complete` fills its bar (its last report may not have arrived yet)."""
        bar = self.bars[index]
        bar.set_description_str(f"{_short(self.specs[index])}: {status}", refresh=False)
        if complete:
            bar.n = bar.total
        bar.refresh()
        self.overall.update()

    def close(self) -> None:
        for bar in [*self.bars, self.overall]:
            bar.close()


def _per_model(reports: dict[str, tuple[str, int, int]]) -> dict[int, tuple[str, int, int]]:
    """Each model's shards folded into one report: the stage most of them are in, their counts summed."""
    folded: dict[int, list[tuple[str, int, int]]] = {}
    for key, report in sorted(reports.items()):
        folded.setdefault(int(key.split("/")[0]), []).append(report)
    result = {}
    for index, parts in folded.items():
        stage = max({p[0] for p in parts}, key=[p[0] for p in parts].count)
        same = [p for p in parts if p[0] == stage]
        result[index] = (stage, sum(p[1] for p in same), sum(p[2] for p in same))
    return result


def _short(spec: str, width: int = 40) -> str:
    return spec if len(spec) <= width else "..." + spec[-(width - 3) :]
