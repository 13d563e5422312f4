"""Gallery: a run's photos of one class, side by side by background, with what the model predicted."""

from pathlib import Path

import streamlit as st

from app import data, gallery, run_queries, widgets
from app.thumbnails import GALLERY_PX, placeholder, thumbnail
from engine.config import cache_root

st.title("Gallery")
runs = data.query(run_queries.run_list)
if runs.empty:
    st.info("No evaluated runs yet. Evaluate a model with `counteranimal eval`, or try `counteranimal demo`.")
    st.stop()

run = widgets.run_picker(runs, "gallery_run")
classes = data.query(run_queries.run_classes, run_id=run.run_id)
left, middle, right = st.columns([2, 1, 1])
class_id = left.selectbox(
    "Class", classes["class_id"], format_func=dict(zip(classes["class_id"], classes["label"], strict=True)).get,
    key="gallery_class",
)  # fmt: skip
setup = middle.radio(
    "Candidate labels", run_queries.SETUPS, format_func=widgets.SETUP_LABELS.get, key="gallery_setup", horizontal=True
)
shown = right.radio("Show", gallery.FILTERS, key="gallery_filter")
order = st.selectbox("Order", gallery.SORTS, key="gallery_order")

labels = data.query(run_queries.imagenet_labels)
rows = gallery.with_setup(
    data.query(run_queries.gallery_rows, run_id=run.run_id, class_id=int(class_id)), setup, labels
)
rows = gallery.select(rows, shown, order)
page = st.number_input("Page", min_value=1, max_value=gallery.pages(rows), key="gallery_page")
st.caption(f"{len(rows)} photos. Thumbnails are made once and kept in the cache folder.")

root, cache = Path(run.dataset_root), cache_root()
missing = 0
background = classes.set_index("class_id").loc[class_id]
for column, split in zip(st.columns(2), ("common", "counter"), strict=True):
    with column:
        st.subheader(f"{split}: {background[f'{split}_background']}")
        for i, row in enumerate(gallery.page_of(rows, split, page).itertuples()):
            if i % 3 == 0:
                grid = st.columns(3)
            with grid[i % 3]:
                path = thumbnail(root / row.image_id, GALLERY_PX, cache)
                missing += path is None
                mark = "✓" if row.correct else "✗"
                caption = f"{mark} {row.predicted_label} · {row.confidence:.0%}"
                st.image(str(path or placeholder(GALLERY_PX, cache)), caption=caption, width="stretch")
                if st.button("Enlarge", key=f"zoom_{row.image_id}", width="stretch"):
                    widgets.photo_dialog(root / row.image_id, rows.set_index("image_id").loc[row.image_id], labels)
if missing:
    st.warning(f"{missing} photos of this page are not under {root} (moved or deleted?); placeholders are shown.")
