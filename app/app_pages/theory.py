"""Theory: the paper's theorem as a live experiment (a CLIP-style and a supervised learner trained on the same synthetic
pairs, where the background goes with the object), next to the paper's own ColoredCOCO numbers."""

from datetime import date

import streamlit as st

from app import cached, export
from app.charts.style import accuracy_change
from app.charts.theory import theory_drop_curve, theory_scatter
from app.widgets import presenter
from app.widgets.export_menu import export_menu
from engine import __version__, theory

INTRO = (
    "The paper's theorem: once captions correlate with the background, the CLIP objective aligns the background with "
    "the caption, so contrastive training offers no robustness beyond supervised training. Here both learn, live, from "
    "the same synthetic pairs: two objects, each shown on its usual background with probability p (0.5: the background "
    "says nothing about the object), captions naming the object and, with probability q, the background. Common: every "
    "object on its usual background; counter: the same images with the background swapped. A learner that ignores the "
    "background stays on y = x."
)
DEFAULTS = theory.WorldConfig()
# Each setting's key, its choices and its default (the default world's).
SETTINGS = {
    "theory_p": (theory.P_GRID, DEFAULTS.p),
    "theory_q": (theory.Q_CHOICES, DEFAULTS.q),
    "theory_object_noise": (theory.NOISE_CHOICES, DEFAULTS.object_noise),
    "theory_background_noise": (theory.NOISE_CHOICES, DEFAULTS.background_noise),
    "theory_n_train": (theory.N_TRAIN_CHOICES, DEFAULTS.n_train),
    "theory_seed": (theory.SEEDS, DEFAULTS.seed),
}


def world_controls() -> theory.WorldConfig:
    """The sidebar's sliders (hidden in the presenter view, which shows only the result); returns the world chosen.
    A setting that is unset, or not among its choices (a link's `theory_p=0.55`), starts at its default: a select
    slider would fall back to its first choice instead, and url_state reports the value that did not stick."""
    for key, (choices, default) in SETTINGS.items():
        if st.session_state.get(key) not in choices:
            st.session_state[key] = default
    with st.sidebar:
        st.header("The synthetic world")
        p = st.select_slider("p: training images on the object's usual background", theory.P_GRID, key="theory_p")
        q = st.select_slider(
            "q: captions that also name the background",
            theory.Q_CHOICES,
            key="theory_q",
            help="Up to 0.9: at 1, no training caption names an object alone, so the zero-shot prompt is never seen.",
        )
        object_noise = st.select_slider("Object noise (std)", theory.NOISE_CHOICES, key="theory_object_noise")
        background_noise = st.select_slider(
            "Background noise (std)", theory.NOISE_CHOICES, key="theory_background_noise"
        )
        n_train = st.select_slider("Training pairs", theory.N_TRAIN_CHOICES, key="theory_n_train")
        seed = st.selectbox("Seed", theory.SEEDS, key="theory_seed", help="The same seed: the same world and models.")
    return theory.WorldConfig(
        p=p, q=q, object_noise=object_noise, background_noise=background_noise, n_train=n_train, seed=seed
    )


sources = cached.sources()
st.title("Theory lab: contrastive training and the background")
st.caption(INTRO)
config = world_controls()
p, q = config.p, config.q
with st.spinner("Training both learners at every p…"):
    sweep = cached.theory_sweep(config)

chosen = sweep[sweep["p"] == p].set_index("learner")["drop"]
figures = {
    "theory-scatter": theory_scatter(sweep, p, f"Common vs counter, q = {q:g}"),
    "theory-drop": theory_drop_curve(sweep, p, f"The drop as the background agrees more, q = {q:g}"),
}
lab, paper = st.columns([3, 2])
with lab:
    presenter.chart(figures["theory-scatter"])
    st.caption(
        f"From common to counter at p = {p:g}: {theory.CLIP} {accuracy_change(chosen[theory.CLIP], 1)} points, "
        f"{theory.ERM} {accuracy_change(chosen[theory.ERM], 1)}. Small markers: the same world at the other p. "
        f"{config.describe()}."
    )
    presenter.chart(figures["theory-drop"])
with paper:
    st.subheader("The paper's experiment: ColoredCOCO")
    coloredcoco = cached.coloredcoco(sources)
    if coloredcoco.empty:
        st.info("The published ColoredCOCO table (`coloredcoco.csv`) is missing from the paper folder.")
    else:
        number = st.column_config.NumberColumn(format="%.2f", width="small")
        st.dataframe(
            coloredcoco,
            hide_index=True,
            # The numbers before the long training text: in this narrow column the text pushed them out of sight.
            column_order=["backbone", "common", "counter", "drop", "training"],
            column_config={c: number for c in ["common", "counter", "drop"]},
        )
        st.caption(
            "Common: in-distribution accuracy (%); counter: out-of-distribution, objects on other backgrounds. "
            f"Drops by training: {theory.coloredcoco_drops(coloredcoco)}. "
            f"Source: {export.paper_source(coloredcoco['source'])}."
        )

caption = (
    f"CounterAnimal Explorer {__version__} · theory lab: a synthetic world trained live (numpy), not CounterAnimal · "
    f"{config.describe()} · {date.today().isoformat()}"
)
export_menu("theory", figures, sweep, caption)
