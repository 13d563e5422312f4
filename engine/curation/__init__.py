"""Curation: from a reference model's accuracy per class and background, choose each class's common and counter
background (select.py) and write the new dataset in the CounterAnimal layout with its report (write.py). Torch-free:
the reference model's run is made by `engine.inference.curation`."""

# The paper's curating model: CLIP-LAION400M-ViT/B/32 (the E31 checkpoint of its main tables), 1 vs 1000. Here, not in
# select.py, so that the CLI names it without importing pandas (a third of a second at every command's start).
REFERENCE_MODEL = "open_clip:ViT-B-32/laion400m_e31"
