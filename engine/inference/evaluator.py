"""Evaluate models on a dataset into runs: for each model, load it, derive the run's identity, skip it if that run
exists, score every image from the shared image cache, and write the run atomically."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pyarrow as pa
import torch

from engine.dataset.reader import Dataset, DatasetError
from engine.files import digest
from engine.inference.image_cache import Filling, ImageCache, load_or_build_cache
from engine.inference.labels import (
    answer_names,
    imagenet_classnames,
    load_candidates,
    templates,
)
from engine.inference.lvlm import predict_lvlm, readable_photos, refuse_if_too_large
from engine.inference.provenance import run_identity, run_manifest
from engine.inference.scorers import Scorer, Unaligned, predict
from engine.inference.text_heads import text_head
from engine.models import LoadedModel, architecture, load_model, parse_spec
from engine.models.recipes import Recipe
from engine.models.vlm import ANSWER, QUESTION
from engine.runs import store
from engine.runs.format import ONE_VS_20, SETUPS, RunManifest
from engine.zoo.catalog import VLM_SOURCES
from engine.zoo.specs import ModelError

# Photos per batch for vision-language models: 8 with packed answers (one prompt cache per photo); 2 when the
# cache is repeated per answer (20 copies per photo: ~6 GB for a 7B model's 600-token prompt).
LVLM_PHOTOS, LVLM_PHOTOS_REPEATED = 8, 2

MAX_UNREADABLE_SHARE = 0.05  # more unreadable photos than this and the dataset, not the model, is what is measured


@dataclass(frozen=True)
class EvalOptions:
    """How to evaluate (everything but the model and the data)."""

    results: Path
    cache: Path
    device: torch.device
    setups: tuple[str, ...] = SETUPS
    templates: str = "paper"  # "paper" | "openai80"
    classnames: str = "wordnet"  # "wordnet" | "openai"
    candidates: Path | None = None  # 1 vs 20 candidate file; None: the published reconstruction
    batch_size: int = 256
    workers: int = 4  # decoding threads for the image cache
    force: bool = False
    question: str = QUESTION  # vision-language models: the question asked about every photo ({} = a candidate)
    answer: str = ANSWER  # vision-language models: the answer whose loss scores a candidate ({} = its name)
    answer_score: str = "mean"  # vision-language models: "mean" (the paper's) or "sum" of the answer tokens' losses
    allow_large: bool = False  # evaluate a vision-language model even when it is estimated too big or too slow here
    progress: bool = True  # progress bars on the terminal
    on_progress: Callable[[str, int, int], None] | None = None  # (stage, done, total), e.g. for a job's page


@dataclass
class Outcome:
    """What happened to one model."""

    spec: str
    run_id: str
    path: Path
    skipped: bool  # an identical run existed
    seconds: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ComputedRun:
    """A run made but not yet written: what `store.write_run` takes."""

    manifest: RunManifest
    table: pa.Table  # the predictions, in the run format


class Evaluator:
    """Evaluates models one after another, sharing image caches (by recipe) and label sets between them."""

    def __init__(self, dataset: Dataset, options: EvalOptions) -> None:
        self.dataset, self.options = dataset, options
        # Image caches by recipe key, built one at a time by a background thread (see `prefetch`).
        self.caches: dict[tuple, Future[ImageCache]] = {}
        self.fillings: dict[tuple, Filling] = {}  # the same caches while they are built, read as they fill
        self._builder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="image-cache")
        self._stop = threading.Event()
        wants_20 = ONE_VS_20 in options.setups
        self.candidates = load_candidates(options.candidates) if wants_20 else None
        self.candidates_digest = digest(sorted(self.candidates.items())) if self.candidates else None

    def prefetch(self, recipes: Iterable[Recipe | None]) -> None:
        """Queue the image caches of these recipes, built one after another in the background, so that decoding for
        later models overlaps with the models running now (None: a model without a cache)."""
        for recipe in recipes:
            if recipe is not None:
                self._cache_future(recipe)

    def close(self) -> None:
        """Stop background cache builds (queued ones never start; a running one stops at its next photo)."""
        self._stop.set()
        self._builder.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _stage(self, stage: str, done: int = 0, total: int = 0) -> None:
        if self.options.on_progress:
            self.options.on_progress(stage, done, total)

    def _cache_future(self, recipe: Recipe) -> Future[ImageCache]:
        key = (recipe.key, recipe.convert_first)
        if key not in self.caches:
            o = self.options
            self.fillings[key] = Filling(tuple(image.image_id for image in self.dataset.images))
            build = partial(
                load_or_build_cache, self.dataset, recipe, o.cache, o.workers, progress=o.progress, stop=self._stop,
                report=partial(self._stage, "decoding photos"), filling=self.fillings[key],
            )  # fmt: skip
            self.caches[key] = self._builder.submit(build)
        return self.caches[key]

    def filling(self, model: LoadedModel) -> Filling | None:
        """The model's image cache while it is being built, to score photos as they are decoded (None: complete)."""
        future = self._cache_future(model.recipe)
        return None if future.done() else self.fillings[(model.recipe.key, model.recipe.convert_first)]

    def image_cache(self, model: LoadedModel) -> ImageCache:
        cache = self._cache_future(model.recipe).result()
        self._check_readable(cache.skipped)
        return cache

    def _check_readable(self, skipped: dict[str, str]) -> None:
        unreadable = len(skipped) + len(self.dataset.empty_files)
        if unreadable > MAX_UNREADABLE_SHARE * (len(self.dataset.images) + len(self.dataset.empty_files)):
            examples = "; ".join(f"{k}: {v}" for k, v in list(skipped.items())[:3])
            raise DatasetError(
                f"{unreadable} photos of {self.dataset.root} cannot be read ({examples}); that is too many to measure "
                "a model on. See them all with `counteranimal data check`."
            )

    def scorer(self, model: LoadedModel) -> Scorer:
        head = None
        if model.family == "CLIP":
            names, prompts = imagenet_classnames(self.options.classnames), templates(self.options.templates)
            head = text_head(model, names, prompts, self.options.cache, self.options.progress)
        return Scorer(model, head, self.options.device)

    def evaluate(self, spec: str, name: str | None = None) -> Outcome:
        """Load a model spec and evaluate it (see `evaluate_model`)."""
        clock = time.perf_counter()
        if parse_spec(spec).kind in VLM_SOURCES:
            self.check_vlm(spec)
        self._stage("loading the model")
        model = load_model(spec, self.options.device)
        return self.evaluate_model(model, load_seconds=time.perf_counter() - clock, name=name)

    def check_vlm(self, spec: str) -> None:
        """Refuse, before reading any weights, a vision-language model this machine cannot hold or would take hours
        over (unless `allow_large`), and one asked for without the 1 vs 20 setup it is scored in."""
        if ONE_VS_20 not in self.options.setups:
            raise ModelError(
                f"{spec} is a vision-language model: it is scored in 1 vs 20 only (the loss of each of 20 candidate "
                "answers; 1,000 answers per photo would be 50 times the work). Add 1vs20 to --setups."
            )
        if self.options.allow_large:
            return
        parameters = sum(p.numel() for p in architecture(spec).network.parameters())
        refuse_if_too_large(spec, parameters, self.options.device, len(self.dataset.images))

    def evaluate_model(self, model: LoadedModel, load_seconds: float = 0.0, name: str | None = None) -> Outcome:
        """Evaluate a loaded model into a run, unless an identical run exists (and `force` is off). `name` is how
        the dashboard shows the run (default: from the spec)."""
        spec = model.spec.text
        identity, rid = self.identity(model)
        if store.is_complete(self.options.results, rid) and not self.options.force:
            if name:  # not part of the identity: the run keeps its predictions and takes the name given now
                store.rename_run(self.options.results, rid, name)
            return Outcome(spec, rid, store.run_path(self.options.results, rid), skipped=True)
        computed = self.compute_run(model, identity, load_seconds, name)
        self._stage("writing the run")
        path = store.write_run(self.options.results, computed.manifest, computed.table)
        return Outcome(spec, rid, path, skipped=False, seconds=computed.manifest.seconds)

    def identity(self, model: LoadedModel) -> tuple[dict, str]:
        """(everything that determines the model's predictions here, its hash: the run id)."""
        identity = run_identity(model, self.dataset, self.options, self.candidates_digest)
        return identity, store.run_id(identity)

    def compute_run(
        self,
        model: LoadedModel,
        identity: dict,
        load_seconds: float = 0.0,
        name: str | None = None,
        cache: ImageCache | None = None,
    ) -> ComputedRun:
        """A run's predictions and run.json, written nowhere: `evaluate_model` writes them here, a Ray driver writes
        those its workers computed (`engine.distributed`). `cache`: the pixels to score when not the model's whole
        image cache (a data-parallel shard of it)."""
        started, clock = datetime.now(UTC).isoformat(timespec="milliseconds"), time.perf_counter()
        rid = store.run_id(identity)
        seconds = {"load": load_seconds}
        self._stage("decoding photos", 0, len(self.dataset.images))
        filling = self.filling(model) if cache is None and model.recipe is not None and model.family != "LVLM" else None
        if filling is not None:  # scored as it is decoded; the finished cache says which photos were unreadable
            self._check_readable({})
            readable, unreadable = None, None
        elif model.recipe is not None:
            cache = self.image_cache(model) if cache is None else cache
            readable, unreadable = list(cache.image_ids), cache.skipped
        else:  # a vision-language processor that sizes each photo itself: decoded as the model goes
            cache, (readable, unreadable) = None, readable_photos(self.dataset)
            self._check_readable(unreadable)
        seconds["cache_wait"] = time.perf_counter() - clock
        tick = time.perf_counter()
        if model.family == "LVLM":
            table = self._answers(model, cache, readable)
        else:
            table = self._predict(model, filling if filling is not None else cache, seconds)
            tick += seconds["text_head"]
        seconds["inference"] = time.perf_counter() - tick
        if filling is not None:
            unreadable = self.image_cache(model).skipped
        seconds = {k: round(v, 3) for k, v in seconds.items()}
        manifest = run_manifest(
            rid, identity, model, self.dataset, unreadable, self.options, started, seconds, evaluated=table.num_rows
        )
        if name:
            manifest.model["name"] = name
        return ComputedRun(manifest, table)

    def _predict(self, model: LoadedModel, cache: ImageCache | Filling, seconds: dict[str, float]) -> pa.Table:
        """A classifier's run table: CLIP through its text head, ImageNet models through their own logits. A cache
        being filled is scored as it fills; if a photo turns out unreadable, the finished cache is scored instead, so
        that the batches, and so the predictions, are always those of the finished cache."""
        tick = time.perf_counter()
        if model.family == "CLIP":
            self._stage("encoding the class prompts")
        scorer = self.scorer(model)
        seconds["text_head"] = time.perf_counter() - tick
        o = self.options
        report = partial(self._stage, "scoring photos")
        if isinstance(cache, Filling):
            try:
                report(0, len(cache.image_ids))
                return predict(scorer, self.dataset, cache, self.candidates, o.batch_size, o.progress, report)
            except Unaligned:
                cache = self.image_cache(model)
        report(0, len(cache.image_ids))  # the stage's clock starts before its first batch
        return predict(scorer, self.dataset, cache, self.candidates, o.batch_size, o.progress, report)

    def _answers(self, model: LoadedModel, cache: ImageCache | None, readable: list[str]) -> pa.Table:
        """A vision-language model's run table: the loss of each candidate answer, 1 vs 20."""
        if self.candidates is None:
            raise ModelError(f"{model.spec.text} is a vision-language model: it is scored in 1 vs 20 only.")
        o = self.options
        report = partial(self._stage, "scoring answers")
        report(0, len(readable))
        names = list(answer_names(o.classnames))
        photos = max(1, min(o.batch_size, LVLM_PHOTOS if model.vlm.packs_answers else LVLM_PHOTOS_REPEATED))
        return predict_lvlm(
            model.vlm, self.dataset, cache, self.candidates, names, image_ids=readable, question=o.question,
            answer=o.answer, score=o.answer_score, photos=photos, progress=o.progress, report=report,
        )  # fmt: skip
