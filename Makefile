# Two entry points: `make repro` (set up, then run the whole study) and `make test` (set up, then test).
# Set-up is idempotent: a virtual environment in .venv with the project and its pinned PyTorch, and
# Fashion-MNIST from Debian's dataset-fashion-mnist package where apt-get can install it.
VENV := .venv
BIN := $(VENV)/bin
# On this project's reference machines these two releases install from local disk; elsewhere pip
# downloads them (any torch >= 2.2 with its matching torchvision also works).
TORCH := torch==2.14.1 torchvision==0.29.1
FASHION_MNIST := /usr/share/datasets/fashion-mnist
SYSTEM_PYTHON := $(shell command -v python3)

.PHONY: setup data repro test lint bench
setup: $(BIN)/.installed

$(BIN)/.installed: pyproject.toml
	$(SYSTEM_PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# Best effort: without the package, the download stage falls back to torchvision (network needed).
data:
	@if [ ! -d $(FASHION_MNIST) ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null; \
	fi

# The stages call `python`: the virtual environment's, first on PATH.
export PATH := $(abspath $(BIN)):$(PATH)

repro: setup data
	dvc repro

lint: setup
	ruff check .

test: setup data lint
	pytest -q

bench: setup data
	python bench/run.py sweep && python bench/run.py short && python bench/run.py report
