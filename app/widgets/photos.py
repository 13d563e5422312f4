"""Photos on a page: a grid of thumbnails, and one photo enlarged with what the model predicted."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import streamlit as st

from app import gallery_rows
from app.thumbnails import DETAIL_PX, GALLERY_PX, placeholder, thumbnail
from engine.config import cache_root
from engine.runs.format import SETUP_LABELS, SETUPS

PHOTOS_PER_PAGE = 12  # thumbnails on one page of a grid: two or three rows, quick to scan and to make


@st.dialog("Photo", width="large")
def photo_dialog(photo: Path, row: pd.Series, labels: dict[int, str]) -> None:
    """The photo larger, with its top-5 classes in every setup."""
    path = thumbnail(photo, DETAIL_PX, cache_root(), enlarge=True)
    if path is None:
        st.warning(f"{photo} is missing or unreadable.")
    else:
        st.image(str(path), caption=row.name)
    st.markdown(f"True class: **{labels.get(int(row['class_id']), row['class_id'])}**")
    for column, setup in zip(st.columns(len(SETUPS)), SETUPS, strict=True):
        with column:
            st.markdown(f"**{SETUP_LABELS[setup]}**")
            st.dataframe(gallery_rows.top5(row, setup, labels), hide_index=True, column_config={
                "probability": st.column_config.ProgressColumn(format="%.2f", min_value=0.0, max_value=1.0)
            })  # fmt: skip


def photo_page(image_ids: list[str], page: int) -> tuple[list[str], str]:
    """The photos on `page` (from 1) of `PHOTOS_PER_PAGE` each, and a caption saying which of how many they are."""
    start = (page - 1) * PHOTOS_PER_PAGE
    shown = image_ids[start : start + PHOTOS_PER_PAGE]
    return shown, f"{len(shown)} of {len(image_ids)} photos ({start + 1}-{start + len(shown)})"


def thumbnail_grid(root: Path, image_ids: list[str], columns: int, key: str) -> None:
    """Thumbnails of photos under `root`, `columns` per row, a page at a time with a page number (widget `key`) when
    there are more than `PHOTOS_PER_PAGE`; a placeholder and a notice for missing ones."""
    if not image_ids:
        st.caption("No photos.")
        return
    if len(image_ids) > PHOTOS_PER_PAGE:
        pages = math.ceil(len(image_ids) / PHOTOS_PER_PAGE)
        left, right = st.columns([1, 3], vertical_alignment="bottom")
        page = left.number_input(f"Page (of {pages})", min_value=1, max_value=pages, step=1, key=key)
        image_ids, caption = photo_page(image_ids, min(int(page), pages))
        right.caption(caption)
    cache, missing = cache_root(), 0
    for i, image_id in enumerate(image_ids):
        if i % columns == 0:
            grid = st.columns(columns)
        path = thumbnail(root / image_id, GALLERY_PX, cache)
        missing += path is None
        grid[i % columns].image(str(path or placeholder(GALLERY_PX, cache)), caption=Path(image_id).name)
    if missing:
        st.warning(f"{missing} photos are not under {root} (moved or deleted?); placeholders are shown.")
