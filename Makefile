# Each target builds its own virtual environment in .venv (torch pinned first:
# the pinned CPU build installs from local wheels, an unpinned one pulls gigabytes).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pipefail: a failed pip fails the step, though its output goes through a filter.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
# pip without its bars, its whole output kept in $(VENV)/pip.log; on screen one line per
# package it collects (or unpacks from local wheels) and the line that starts the install (cut
# short): a live account of a few minutes' work that keeps a CI log short. A failure shows
# the log's end.
PIP := $(BIN)/python -m pip install --progress-bar off
PIP_LINES := tee -a $(VENV)/pip.log | awk '/^(Collecting|Processing|Installing collected)/ \
	{ print "   " substr($$0, 1, 100); fflush() }' || { tail -n 40 $(VENV)/pip.log; exit 1; }

.PHONY: demo rollout test test-all lint bench docs clean

$(STAMP): pyproject.toml
	@echo "== install 1/4: a virtual environment in $(VENV) ($(PYTHON))"
	$(PYTHON) -m venv $(VENV)
	@echo "== install 2/4: the latest pip"
	$(PIP) --quiet --upgrade pip
	@echo "== install 3/4: torch 2.13.0, the CPU build (one large wheel and its dependencies)"
	$(PIP) torch==2.13.0 2>&1 | $(PIP_LINES)
	@echo "== install 4/4: pa_envs and its dev extras (about 70 packages: a few minutes)"
	$(PIP) -e ".[dev]" 2>&1 | $(PIP_LINES)
	@echo "== installed: $$($(BIN)/python -m pip list 2>/dev/null | tail -n +3 | wc -l) packages in $(VENV)"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m baselines.experiment --horizons 100,200,400,800

rollout: $(STAMP)
	$(BIN)/python -m baselines.demo

# The fast tier for the edit loop: no test marked slow, a few hypothesis examples per property,
# spread over the machine's cores (pytest-xdist).
test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto -m "not slow" --hypothesis-profile=fast

# Everything, as CI (.ci/run) runs it: the slow tests, the docs pages and the site build.
test-all: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m mypy  # pa_envs, configured in pyproject.toml

bench: $(STAMP)
	$(BIN)/python -m baselines.bench_speed

docs: $(STAMP)
	bash .ci/docs

clean:
	rm -rf $(VENV) .venv-rllib .pytest_cache .ruff_cache .hypothesis docs/_build
