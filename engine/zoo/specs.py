"""The model spec grammar, in one place: one string names a model everywhere (CLI, files, DuckDB, URLs). Torch-free.

    open_clip:ARCH/TAG          pretrained weights by open_clip tag, e.g. open_clip:ViT-B-32/laion2b_s34b_b79k
    open_clip:ARCH@FILE         local weights for an open_clip architecture
    open_clip:local-dir:DIR     a folder with open_clip_config.json and weights, as open_clip saves for the hub
    torchvision:NAME/WEIGHTS    e.g. torchvision:resnet50/IMAGENET1K_V1;  torchvision:NAME@FILE for local weights
    timm:NAME                   e.g. timm:convnext_base.fb_in1k (pretrained);  timm:NAME@FILE for local weights
    hf:REPO_ID | hf:DIR         a transformers image-text-to-text model (LLaVA, ...): hub id or save_pretrained folder
    minigpt4:DIR                a MiniGPT-4 folder assembled from its public parts (README, "Vision-language models")
    python:MODULE:FUNCTION      a network from your own code: FUNCTION() in MODULE (a dotted module importable from
                                sys.path or the current folder, or a path to a .py file) returns it with its
                                preprocessing (`engine.models.load_python`); python:MODULE:FUNCTION@FILE loads weights

A zoo entry's paper name (e.g. "CLIP-OpenAI-ViT/B/32") or its id (e.g. "lvlm:llava-1.5-7b") stands for its spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.errors import UserError
from engine.zoo.catalog import SOURCES, VLM_SOURCES, load_zoo

LOCAL_DIR = "local-dir:"  # open_clip:local-dir:DIR
PYTHON = "python"  # python:MODULE:FUNCTION[@FILE]
PYTHON_GRAMMAR = "python:MODULE:FUNCTION[@CHECKPOINT], e.g. python:mypackage.models:build or python:./net.py:build@w.pt"


class ModelError(UserError):
    """A model spec cannot be loaded; the message says why and what to do."""


@dataclass(frozen=True)
class Spec:
    """A parsed model spec."""

    text: str
    kind: str  # one of SOURCES
    name: str  # architecture, with /TAG or /WEIGHTS for hub weights; "local-dir:DIR" for an open_clip folder
    file: Path | None  # local weights (ARCH@FILE)

    @property
    def folder(self) -> Path | None:
        """The local folder of an `open_clip:local-dir:DIR`, `hf:DIR` or `minigpt4:DIR` spec."""
        if self.name.startswith(LOCAL_DIR):
            return Path(self.name.removeprefix(LOCAL_DIR)).expanduser()
        if self.kind in VLM_SOURCES and _is_path(self.name):
            return Path(self.name).expanduser()
        return None

    @property
    def architecture(self) -> str:
        """The architecture without its weights tag (`ViT-B-32` of `ViT-B-32/openai`; timm keeps `arch.tag`)."""
        return self.name.split("/", 1)[0]

    @property
    def entry_point(self) -> tuple[str, str]:
        """(MODULE, FUNCTION) of a `python:` spec: a dotted module name or a .py file's path, and the function."""
        module, _, function = self.name.rpartition(":")
        return module, function

    def without_file(self) -> str:
        """The spec with a local weight file's path replaced by `@file` (a vision-language model's folder by
        `folder`, a `python:` module's path by its file name): a run's identity is the weights' and the code's
        hashes, not where they lie."""
        if self.kind in VLM_SOURCES and self.folder is not None:
            return f"{self.kind}:folder"
        if self.kind == PYTHON:
            module, function = self.entry_point
            name = f"{_module_name(module)}:{function}"
            return f"{PYTHON}:{name}" if self.file is None else f"{PYTHON}:{name}@file"
        return f"{self.kind}:{self.name}" if self.file is None else f"{self.kind}:{self.name}@file"


def is_module_path(module: str) -> bool:
    """A `python:` spec's MODULE given as a file (`./net.py`, `~/code/net.py`), not as a dotted module name."""
    return module.endswith(".py") or "/" in module or "\\" in module


def _module_name(module: str) -> str:
    """A module as shown and keyed: a dotted name as is, a file by its name (`net.py`), not its folder."""
    return Path(module).name if is_module_path(module) else module


def _is_path(name: str) -> bool:
    """A hub id is OWNER/NAME; a folder is written as a path, or exists."""
    return name.startswith(("/", "./", "../", "~")) or Path(name).expanduser().is_dir()


def parse_spec(text: str) -> Spec:
    """Parse a spec, or a zoo entry's paper name (e.g. "CLIP-OpenAI-ViT/B/32") into its id.

    Raises:
        ModelError: an unknown source, or a zoo model listed only for its published numbers.
    """
    zoo = {m.name: m for m in load_zoo() if m.role == "main"} | {m.id: m for m in load_zoo() if m.spec}
    if text in zoo:
        if not zoo[text].loader:
            raise ModelError(f"{text} ({zoo[text].id}) is listed for its published numbers; it cannot be evaluated.")
        text = zoo[text].loader
    kind, sep, rest = text.partition(":")
    if not sep or kind not in SOURCES or not rest:
        raise ModelError(f"Unknown model spec {text!r}. Use one of: {', '.join(f'{k}:...' for k in SOURCES)}.")
    if (kind == "open_clip" and rest.startswith(LOCAL_DIR)) or kind in VLM_SOURCES:
        return Spec(text, kind, rest, None)
    name, at, file = rest.partition("@")
    if kind == PYTHON:
        _check_entry_point(text, name, at, file)
    return Spec(text, kind, name, Path(file).expanduser() if at else None)


def _check_entry_point(text: str, name: str, at: str, file: str) -> None:
    module, colon, function = name.rpartition(":")
    if not (colon and module and function.isidentifier()) or (at and not file):
        raise ModelError(f"{text!r} is not a python: spec. Write it as {PYTHON_GRAMMAR}.")


def spec_for(kind: str, architecture: str, weights: Path) -> str:
    """The spec of a local weight file for an architecture of a source, or of a folder, which names its own
    architecture: an open_clip hub folder (kind "local-dir") or a transformers save_pretrained folder (kind "hf")."""
    folders = {"local-dir": f"open_clip:{LOCAL_DIR}", "hf": "hf:"}  # kind -> the spec up to the folder's path
    if kind in folders:
        return f"{folders[kind]}{weights}"
    return f"{kind}:{architecture}@{weights}"


def display_name(spec: str) -> str:
    """A short name for a model spec that is not in the zoo: its folder or weight file, not the whole path."""
    kind, _, rest = spec.partition(":")
    if rest.startswith(LOCAL_DIR) or (kind in VLM_SOURCES and _is_path(rest)):
        return f"{Path(rest.removeprefix(LOCAL_DIR)).name} ({kind})"
    name, at, file = rest.partition("@")
    if kind == PYTHON:  # the function and its module's name, not the module's folder
        module, _, function = name.rpartition(":")
        name = f"{_module_name(module)}:{function}"
        return f"{name} · {Path(file).stem}" if at else name
    return f"{name} · {Path(file).stem}" if at else spec
