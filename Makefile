# Two commands set everything up on a fresh machine with Python 3.11 and make:
#   make run    create .venv, install the pinned requirements and the package, run `dvc repro`
#   make test   create or reuse .venv, run the test suite
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Caches the project owns (CI starts with empty ones and may run as root).
export NUMBA_CACHE_DIR := $(CURDIR)/.cache/numba
export DVC_SITE_CACHE_DIR := $(CURDIR)/.cache/dvc-site
export MPLCONFIGDIR := $(CURDIR)/.cache/matplotlib
export TF_CPP_MIN_LOG_LEVEL := 2
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: run test lint report bench paper ablation clean-venv musicnn

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip check
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/dvc repro

test: $(STAMP) musicnn
	$(BIN)/python -m pytest -q

# the pretrained musicnn weights: the musicnn 0.1.0 wheel file (sha256-pinned), not installed;
# a no-op offline once it is there (genre_ensemble/musicnn_weights.py holds the pins and folder)
musicnn: $(STAMP)
	$(BIN)/python -m genre_ensemble.musicnn_weights

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

# make report REVS="main exp-name"  compares the workspace with those branches / experiments
report: $(STAMP)
	$(BIN)/genre-ensemble report $(foreach rev,$(REVS),--rev $(rev))

# the paper's protocol as one DVC experiment (overrides listed in bench/ablation.py)
paper: $(STAMP)
	$(BIN)/python bench/ablation.py run paper

# paper mode, each improvement alone, and the default; then the README's results table
ablation: $(STAMP)
	$(BIN)/python bench/ablation.py run
	$(BIN)/python bench/ablation.py table

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean-venv:
	rm -rf $(VENV)
