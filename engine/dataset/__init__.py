"""The dataset: reading a CounterAnimal folder in either layout, downloading the archive safely, and generating
CounterAnimal-shaped photo folders for tests and the demo. Torch-free."""
