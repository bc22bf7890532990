# Each target builds its own virtual environment in .venv (torch pinned first:
# the pinned CPU build installs from local wheels, an unpinned one pulls gigabytes).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo rollout test lint bench docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m baselines.experiment --horizons 100,200,400,800

rollout: $(STAMP)
	$(BIN)/python -m baselines.demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python -m baselines.bench_speed

docs: $(STAMP)
	bash .ci/docs

clean:
	rm -rf $(VENV) .venv-rllib .pytest_cache .ruff_cache .hypothesis docs/_build
