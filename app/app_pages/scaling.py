"""Scaling: how backbone size, pre-training data and training objective move common and counter accuracy."""

import streamlit as st

from app import cached, charts, export, selections
from app.charts.comparisons import BACKBONE_KINDS, backbone_kind
from app.widgets import pickers, presenter
from app.widgets.export_menu import export_menu
from engine.runs.format import SETUP_LABELS

sources = cached.sources()
st.title("Scaling backbones and data")
st.caption(
    "The paper's Figures 3-6: bars are class-balanced accuracy; the number above each pair is the change from common "
    "to counter (negative: a drop)."
)

setup, variant = pickers.setup_and_variant(sources)
points = cached.model_scores(sources, setup, variant)
clip = points[points["family"] == "CLIP"]
figures = {}  # for the export menu, filled as the tabs draw
by_data, by_backbone, versus = st.tabs(
    ["Same data, larger backbones", "Same backbone, other data", "CLIP vs ImageNet"],
    key="scaling_tab",
    on_change="rerun",
)

with by_data:
    options = selections.values_shared_by(clip, "pretrain_data")
    if options:
        chosen = st.selectbox("Pre-training data", options, key="scaling_data")
        rows = selections.same_data(points, chosen)  # smallest backbone first
        # ResNets, ConvNeXts and ViTs apart, each in size order: sizes only compare within a kind.
        kinds = rows["backbone"].map(backbone_kind)
        order = kinds.map({kind: i for i, kind in enumerate(BACKBONE_KINDS.values())}).fillna(len(BACKBONE_KINDS))
        rows = rows.assign(kind=kinds, _order=order).sort_values("_order", kind="stable")
        data = "OpenAI's data" if chosen == "OpenAI" else chosen
        figures["same-data"] = charts.score_bars(rows, "label", f"CLIP models trained on {data}", group="kind")
        presenter.chart(figures["same-data"])
    else:
        st.info("No pre-training dataset has two or more CLIP models in this setup and variant.")

with by_backbone:
    options = selections.values_shared_by(clip, "backbone")
    if options:
        chosen = st.selectbox("Backbone", options, key="scaling_backbone")
        rows = selections.same_backbone(points, chosen)
        figures["same-backbone"] = charts.score_bars(rows, "label", f"CLIP {chosen} by pre-training data")
        presenter.chart(figures["same-backbone"])
    else:
        st.info("No backbone has two or more CLIP models in this setup and variant.")

with versus:
    rows = selections.clip_vs_imagenet(points)
    if rows.empty:
        st.info("No backbone has both CLIP and ImageNet models in this setup and variant.")
    else:
        figures["clip-vs-imagenet"] = charts.score_bars(rows, "label", "CLIP vs ImageNet models with the same backbone")
        presenter.chart(figures["clip-vs-imagenet"])

caption = export.provenance("published numbers", SETUP_LABELS[setup], len(points))
export_menu("scaling", figures, points, caption)
