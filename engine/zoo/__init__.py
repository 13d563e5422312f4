"""The model zoo as data (`zoo.toml`: the paper's models, their ids and pre-training data) and the model spec grammar.
Torch-free."""
