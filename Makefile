# Two commands matter: `make demo` and `make test`. Both create .venv when needed and install from wheels only.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
PIP     = $(BIN)/python -m pip install --only-binary=:all: -c constraints.txt
OUT    ?= outputs

.PHONY: demo test install install-dev lint benchmark notebooks lab clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: install
	$(BIN)/facility-planner run scenarios/beijing_2025.yaml --out $(OUT)/beijing_2025 --force

lint: install-dev
	$(BIN)/ruff check facility_planner tests benchmarks tools notebooks
	$(BIN)/ruff format --check facility_planner tests benchmarks tools notebooks

# the unit tests and every notebook (executed by nbmake, offline) in one run
test: install-dev lint
	$(BIN)/python -m pytest -q --nbmake tests notebooks

notebooks: install-dev  # rewrite the notebooks from tools/make_notebooks.py (committed without outputs)
	$(BIN)/python tools/make_notebooks.py && $(BIN)/ruff format notebooks

lab: install-dev
	$(BIN)/jupyter lab notebooks

benchmark: install-dev
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .ruff_cache
