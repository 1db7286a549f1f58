# Two entry points: `make repro` (set up, then run the whole study) and `make test` (set up, then test);
# `make test-fast` runs the fast lane of the tests.
# Set-up is idempotent: a virtual environment in .venv with the project and the exact versions of requirements.lock,
# and Fashion-MNIST from Debian's dataset-fashion-mnist package where apt-get can install it.
VENV := .venv
BIN := $(VENV)/bin
# Every package of the environment, pinned with its hashes: the versions the committed results were made with
# (Linux x86-64, Python 3.11; PyTorch's CUDA build). README, "Updating the environment", says how to update it.
LOCK := requirements.lock
FASHION_MNIST := /usr/share/datasets/fashion-mnist
SYSTEM_PYTHON := $(shell command -v python3)

.PHONY: setup data browser repro test test-fast lint bench should-i-clean
# setup also (re)writes, idempotently, the .pth that loads dvc_scalar_grid.py in DVC's processes so that
# `dvc exp run -S noise=0.3` works, after checking that the installed DVC is one the bridge fits: see that module.
setup: $(BIN)/.installed
	@$(BIN)/python -m dvc_scalar_grid install

# setup also writes the Vega, Vega-Lite and Vega-Embed JavaScript that the offline `dvc plots show` page
# (.dvc/plots/page.html) loads, from the vl-convert-python package, into the ignored .venv: labelsweep/tooling/plots_page.py.
VEGA_JS := $(VENV)/share/vega/vega-bundle.js
setup: $(VEGA_JS)
$(VEGA_JS): $(BIN)/.installed labelsweep/tooling/plots_page.py
	$(BIN)/python -m labelsweep.tooling.plots_page install $@

# The lock holds setuptools too, so the project itself is built without fetching anything (--no-build-isolation);
# pip check then fails if pyproject.toml declares a package the lock lacks.
$(BIN)/.installed: $(LOCK) pyproject.toml
	$(SYSTEM_PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --require-hashes -r $(LOCK)
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	$(BIN)/pip check
	touch $@

# Best effort: without the package, the download stage falls back to torchvision (network needed).
data:
	@if [ ! -d $(FASHION_MNIST) ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null; \
	fi

# Best effort, for the browser check of the `dvc plots show` page (tests/test_plots_page.py; it skips, saying so,
# where Chromium is missing): Debian's chromium, installed when run as root.
browser:
	@if ! command -v chromium >/dev/null && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	fi

# The stages call `python`: the virtual environment's, first on PATH.
export PATH := $(abspath $(BIN)):$(PATH)

# An image-folder dataset whose folder is missing is fetched and verified (params.yaml: <dataset>.data.url) or left
# out with one line saying how to add it: labelsweep/fetch.py prints the targets of the datasets that are ready
# (none when all are: a plain dvc repro).
repro: setup data
	targets="$$(python -m labelsweep.fetch targets)" && dvc repro $$targets

lint: setup
	ruff check .

# Two pytest workers (pytest-xdist), a test file each at a time: the slow files run DVC and stage processes that wait
# on disk and process start-up as much as on the cores, and a file's module fixtures are built once.
test: setup data browser lint
	pytest -q -n 2 --dist loadfile

# The fast lane: every test but those marked slow (stage processes, DVC, model fitting; pyproject.toml). No
# browser: the plots-page check is slow anyway.
test-fast: setup data lint
	pytest -q -m "not slow"

# Should I clean my labels? The 0 % analysis on a class-per-folder image set: `make should-i-clean IMAGES=/abs/folder`
# (SEEDS=10 by default); prints the verdict with its interval and where the ranked review is.
should-i-clean: setup
	python -m labelsweep.tooling.should_clean "$(IMAGES)" $(if $(SEEDS),--seeds $(SEEDS))

bench: setup data
	python bench/precision.py run && python bench/models.py run && python bench/models.py search && python bench/run.py study && python bench/run.py short \
	  && python bench/run.py report && python bench/precision.py report && python bench/models.py report
