"""Curation: from a reference model's accuracy per class and background, choose each class's common and counter
background (select.py) and write the new dataset in the CounterAnimal layout with its report (write.py). Torch-free:
the reference model's run is made by `engine.inference.curation`."""
