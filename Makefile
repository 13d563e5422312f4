# Two commands on a fresh machine:
#   make serve   set up .venv and start the dashboard on the built-in data (HOST, PORT overridable)
#   make test    set up .venv with the engine and test tools, install Chromium, run the whole suite
# Each setup step leaves a stamp in .venv, so a second run skips what is already installed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8501
# The torch pair that installs cleanly (from a local cache) on the build machines; see README.
TORCH  := torch==2.14.1 torchvision==0.29.1

.PHONY: serve engine test lint format bench chromium clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.app-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[engine,test,ray]' $(TORCH)
	touch $(VENV)/.app-installed $(VENV)/.engine-installed $@

serve: $(VENV)/.app-installed
	$(BIN)/counteranimal serve --host $(HOST) --port $(PORT)

# The engine (torch, open_clip, timm) next to the dashboard: evaluation from the command line or the Evaluate page.
engine: $(VENV)/.engine-installed

$(VENV)/.engine-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[engine]' $(TORCH)
	touch $(VENV)/.app-installed $@

chromium:
	@bash scripts/ensure_chromium.sh

# Style, the import layers of DESIGN.md (contracts in pyproject.toml), and the Dockerfile.
lint: $(VENV)/.test-installed
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/hadolint Dockerfile

format: $(VENV)/.test-installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: $(VENV)/.test-installed chromium lint
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -n 2 --dist loadgroup

bench: $(VENV)/.test-installed
	$(BIN)/python bench/app_latency.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache tests/artifacts
