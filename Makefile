# Two commands set everything up on a fresh machine with Python 3.11 and make:
#   make run    create .venv, install the pinned requirements and the package, run `dvc repro`
#   make test   create or reuse .venv, add the test-only extras (dask), run the test suite
#   make gpu    create .venv-gpu: the same pins with TensorFlow's CUDA build (NVIDIA GPU hosts)
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# the dask cluster backend, which tests/test_dask.py runs: in .venv for `make test` only
TEST_STAMP := $(VENV)/.installed-test
GPU_VENV := .venv-gpu
GPU_STAMP := $(GPU_VENV)/.installed

# Caches the project owns (CI starts with empty ones and may run as root).
export NUMBA_CACHE_DIR := $(CURDIR)/.cache/numba
export DVC_SITE_CACHE_DIR := $(CURDIR)/.cache/dvc-site
export MPLCONFIGDIR := $(CURDIR)/.cache/matplotlib
export TF_CPP_MIN_LOG_LEVEL := 2
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: run test lint report bench paper ablation cv compare clean-venv gpu run-gpu musicnn real

$(STAMP): requirements.txt requirements-base.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip check
	touch $(STAMP)

$(TEST_STAMP): $(STAMP) requirements-dask.txt
	$(BIN)/python -m pip install --quiet -r requirements-dask.txt
	$(BIN)/python -m pip check
	touch $(TEST_STAMP)

# A separate environment, so .venv stays the CPU one that tests and `make run` use.
$(GPU_STAMP): requirements-gpu.txt requirements-base.txt pyproject.toml
	$(PYTHON) -m venv $(GPU_VENV)
	$(GPU_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(GPU_VENV)/bin/python -m pip install --quiet -r requirements-gpu.txt
	$(GPU_VENV)/bin/python -m pip install --quiet --no-deps -e .
	$(GPU_VENV)/bin/python -m pip check
	touch $(GPU_STAMP)

run: $(STAMP)
	$(BIN)/dvc repro

test: $(TEST_STAMP) musicnn
	$(BIN)/python -m pytest -q

# make gpu: install .venv-gpu and say which device training would use
gpu: $(GPU_STAMP)
	$(GPU_VENV)/bin/python -c "from genre_ensemble.members.cnn.runtime import training_device; print(training_device())"

# the pipeline with .venv-gpu's python first on PATH (dvc's stage commands run `python -m ...`)
run-gpu: $(GPU_STAMP)
	PATH=$(CURDIR)/$(GPU_VENV)/bin:$$PATH $(GPU_VENV)/bin/dvc repro

# the pretrained members' weights: the musicnn 0.1.0 wheel file (sha256-pinned), not installed;
# a no-op offline once it is there (genre_ensemble/members/pretrained/weights.py holds the pins)
musicnn: $(STAMP)
	$(BIN)/python -m genre_ensemble.members.pretrained.weights

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

# make report REVS="main exp-name"  compares the workspace with those branches / experiments
report: $(STAMP)
	$(BIN)/genre-ensemble report $(foreach rev,$(REVS),--rev $(rev))

# the paper's protocol as one DVC experiment (its overrides: genre-ensemble sweep --list)
paper: $(STAMP)
	$(BIN)/genre-ensemble sweep paper

# paper mode, each improvement alone and the default over 5 folds; then the README's table
ABLATION := paper paper-clean paper-segments paper-deep paper-features paper-learned default
ablation: $(STAMP)
	$(BIN)/genre-ensemble sweep $(ABLATION) --folds 5
	$(BIN)/python -m bench.cv_table

# make cv VARIANTS="paper default" FOLDS=5   k-fold cross-validation of each variant as queued
# DVC experiments (VARIANT-f0 ...), then the comparison (the variants: genre-ensemble sweep --list)
VARIANTS ?= paper default
FOLDS ?= 5
cv: $(STAMP) musicnn
	$(BIN)/genre-ensemble sweep $(VARIANTS) --folds $(FOLDS)
	$(BIN)/genre-ensemble compare $(VARIANTS)

# make real DATA=/path/to/music [SOURCE=gtzan]   the real-music preset (`genre-ensemble sweep
# --list` shows it) on a labelled folder (SOURCE=folder, the default: <label>/<audio files>) or
# a GTZAN copy, as an experiment in the workspace: its models stay there for predict and serve
SOURCE ?= folder
real: $(STAMP) musicnn
	@test -n "$(DATA)" || { echo "usage: make real DATA=/path/to/music [SOURCE=gtzan]" >&2; exit 2; }
	$(BIN)/genre-ensemble sweep real --workspace --set data.source=$(SOURCE) \
		--set data.dir=$(abspath $(DATA))

bench: $(STAMP)
	$(BIN)/python -m bench.run_all

clean-venv:
	rm -rf $(VENV) $(GPU_VENV)
