"""About: what the benchmark measures, the metrics, the setups, and where the numbers come from."""

import streamlit as st

from app import cached

sources = cached.sources()
st.title("About CounterAnimal Explorer")

st.markdown(
    """
**What CounterAnimal measures.** Image classifiers can lean on the background instead of the animal: a polar bear
is easy on snow and hard on grass. CounterAnimal (Wang et al., NeurIPS 2024; arXiv 2403.11497) collects photos of 45
animal classes from iNaturalist and splits each class's photos by background: the background where a reference CLIP
model does best (**common**, e.g. ice bear on snow) and the one where it does worst (**counter**, e.g. ice bear on
grass). The accuracy a model loses between the two is its
reliance on that spurious background. The paper finds that CLIP models drop more than ImageNet-trained models of
similar accuracy, and that larger backbones and curated pre-training data (DataComp, DFN) help.

**Metrics.**
- *Class-balanced accuracy* (the default): per-class accuracy, averaged over the 45 classes, separately for the
  common and the counter photos. Classes count equally whatever their number of photos.
- *Unbalanced accuracy*: plain per-image accuracy (the paper's Tables 11-12).
- *Drop*: common minus counter accuracy, in points.
- *Effective robustness* (Overview table): counter accuracy minus what the model's family trend line predicts at
  its common accuracy. The trend is a least-squares line fitted in the chosen axis space (linear, probit or logit,
  as in the effective-robustness literature), so the value depends on that choice. Positive means more robust than
  models of its kind with the same common accuracy.

**Two setups.**
- *1 vs 1000*: the prediction is the top-1 over all 1,000 ImageNet classes. CLIP models classify zero-shot with the
  prompt "A photo of &lt;label&gt;." and cosine similarity; ImageNet models use their own logits.
- *1 vs 20*: only 20 candidate labels per class count: the ImageNet labels most similar to that class's photos
  under CLIP-LAION400M-ViT/B/32. The paper never published its lists; the project ships an independent
  reconstruction made with the same procedure. The LVLMs (MiniGPT-4, LLaVA-1.5) are only reported in this setup.
"""
)

counts = cached.model_counts(sources)
main = counts[counts["role"] == "main"]
st.markdown(
    "**The published numbers here.** "
    + ", ".join(f"{row.models} {row.family}" for row in main.itertuples())
    + f" models from the paper's main tables, plus {counts.loc[counts['role'] != 'main', 'models'].sum()} "
    "alternative checkpoints (Table 9). Every number was read from the text of the tables of the first preprint, "
    "arXiv 2403.11497v1 (Tables 2-16; the `source` column names each row's table), not from the NeurIPS version, "
    "and is kept as printed."
)
flagged = cached.flagged_rows(sources).set_index("table")["rows"]
st.markdown(
    f"""
**Caveats.**
- {flagged["scores"]} printed scores and {flagged["per_class"]} printed per-class rows have a drop that differs from
  common - counter by more than rounding; they are kept as printed and flagged ("†" on the Classes page):
  `drop_as_printed` where which printed value is wrong is not settled, `counter_as_printed` where the printed counter
  is probably the typo (ice bear, CLIP-OpenAI-ViT/B/32: 93.64 printed, 83.64 fits the printed drop).
- Two printed score rows are probably not measurements of their model: `copy_of_single_prompt` (ViT-bigG/14's
  prompt-ensemble row repeats its single-prompt row exactly) and `near_chance` (a DataComp small-scale checkpoint at
  0.02 %). They are drawn, but left out of trend fits unless "Fit flagged rows too" is on.
- Five CLIP rows of Table 5 labelled 1 vs 20 repeat the 1 vs 1000 numbers (a printing error); they are stored as
  variant `table5_as_printed` and never plotted.
- Two checkpoint tags the paper prints do not exist in open_clip (ViT-bigG-14 "S34B B160K", DataComp ViT-L/14
  "XL S32B B82K"); the nearest real tags are used as model ids.
- Which ImageNet weights the paper used is not stated; the ids name torchvision's `IMAGENET1K_V1` weights.
- An independent reproduction matched most CLIP numbers to about 0.2 points, but not all: it got 77.13 / 56.33
  for CLIP-LAION2B-ConvNext/BW (paper: 61.03 / 39.91), a miss of 16 points; 70.12 / 41.29 for
  CLIP-LAION400M-ViT/B/32 (paper: 67.13 / 36.95); and it missed ViT-bigG/14 by 0.9 points.
- The `laion400m_e31` / `laion400m_e32` weights were trained with QuickGELU and need it; the engine evaluates them
  with QuickGELU. The paper does not say which it used: its lower numbers may come from the plain-GELU model.
- Class "prairie chicken": the figure says 25 common photos, while the class-wise accuracies are multiples of 1/259.
- Background names differ between tables for three classes (black swan, dung beetle, brambling).

Backbone size is the image encoder's parameter count (CLIP's visual tower; the whole ImageNet classifier), measured
by building each architecture with open_clip or torchvision. Pre-training data sizes count the image-text pairs each
model was trained on (after filtering: DataComp-1B is 1.4B pairs, the DataComp-L subset 140M), each with its source
in `engine/zoo/zoo.toml`. Details: `results/paper/README.md`.

**How to cite.**
"""
)
st.code(
    """@inproceedings{wang2024sober,
  title     = {A Sober Look at the Robustness of {CLIP}s to Spurious Features},
  author    = {Wang, Qizhou and Lin, Yong and Chen, Yongqiang and Schmidt, Ludwig and Han, Bo and Zhang, Tong},
  booktitle = {Advances in Neural Information Processing Systems},
  year      = {2024}
}""",
    language="bibtex",
)
