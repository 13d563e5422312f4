"""Gallery: a run's photos of one class, side by side by background, with what the model predicted."""

from pathlib import Path

import pandas as pd
import streamlit as st

from app import cached, gallery_rows
from app.thumbnails import GALLERY_PX, placeholder, thumbnail
from app.widgets import photos, pickers
from app.widgets.navigation import end_page
from engine.config import cache_root

sources = cached.sources()
st.title("Gallery")
run = pickers.run_picker(pickers.require_runs(sources, follow="gallery_run"), "gallery_run")
left, middle, right = st.columns([2, 1, 1])
class_id, classes = pickers.class_picker(sources, run.run_id, "gallery_class", left)
setup = pickers.run_setup_picker(run, "gallery_setup", middle)
shown = right.radio("Show", gallery_rows.FILTERS, key="gallery_filter")

labels = cached.imagenet_labels(sources)
rows = gallery_rows.with_setup(cached.gallery_rows(sources, run.run_id, class_id), setup, labels)
order_column, page_column = st.columns([2, 1])
order = order_column.selectbox("Order", gallery_rows.SORTS, key="gallery_order")
rows = gallery_rows.select(rows, shown, order)
pages = gallery_rows.pages(rows)
page = page_column.number_input(f"Page (of {pages})", min_value=1, max_value=pages, key="gallery_page")
st.caption(
    f"{len(rows)} photos. True class: **{classes.loc[class_id, 'label'].split(' (')[0]}**. The mark says whether the "
    "model's top prediction is right; the percentage is its confidence. Thumbnails are made once and cached."
)
if rows.empty:
    st.info(f"No photo of this class is {'classified correctly' if shown == 'correct only' else 'misclassified'}.")
    end_page()

root, cache, missing = Path(run.dataset_root), cache_root(), 0
for column, split in zip(st.columns(2), ("common", "counter"), strict=True):
    with column:
        st.subheader(f"{split}: {classes.loc[class_id, f'{split}_background']}")
        for i, row in enumerate(gallery_rows.page_of(rows, split, page).itertuples()):
            if i % 3 == 0:
                grid = st.columns(3)
            with grid[i % 3]:
                path = thumbnail(root / row.image_id, GALLERY_PX, cache)
                missing += path is None
                st.image(str(path or placeholder(GALLERY_PX, cache)), width="stretch")
                mark = ":green[**✓**]" if row.correct else ":red[**✗**]"
                st.markdown(f"{mark} {row.predicted_label} · {gallery_rows.confidence_text(row.confidence)}")
                st.caption(Path(row.image_id).name)


def _ask_to_enlarge() -> None:
    st.session_state["zoom_request"] = st.session_state["zoom_pick"]  # opened once, below, not on every rerun


# One picker for the whole page, not a button per photo: choosing a photo opens it once, larger, with its top-5. The
# options are the labels themselves, all different: Streamlit matches a choice by its label.
on_page = pd.concat([gallery_rows.page_of(rows, split, page) for split in ("common", "counter")])
photo_of = {label: image_id for image_id, label in gallery_rows.photo_labels(on_page).items()}
st.selectbox(
    "Enlarge a photo",
    list(photo_of),
    index=None,
    key="zoom_pick",
    placeholder="Choose a photo of this page",
    on_change=_ask_to_enlarge,
)
if image_id := photo_of.get(st.session_state.pop("zoom_request", None)):
    photos.photo_dialog(root / image_id, rows.set_index("image_id").loc[image_id], labels)
if missing:
    st.warning(f"{missing} photos of this page are not under {root} (moved or deleted?); placeholders are shown.")
