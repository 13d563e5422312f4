"""CounterAnimal Explorer engine: model zoo, evaluation and the results/ layout. Never imports streamlit."""

__version__ = "0.1.0"
