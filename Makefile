# Three commands matter: `make demo`, `make check` (the edit loop, < 2 min) and `make test` (everything; CI).
# All create .venv when needed and install from wheels only.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
PIP     = $(BIN)/python -m pip install --only-binary=:all: -c constraints.txt
OUT    ?= outputs

.PHONY: demo check test install install-dev lint types docs doctest benchmark notebooks lab clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) --quiet -e .
	@# compile the p-median's inner loop once now (a few seconds) rather than in the first run
	$(BIN)/python -c "from facility_planner.models._median_kernel import warm_up; warm_up()"
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: install
	$(BIN)/facility-planner run scenarios/beijing_2025.yaml --out $(OUT)/beijing_2025 --force

lint: install-dev  # ruff: style, imports, bugbear and the numpy docstring rules (pydocstyle `D`)
	$(BIN)/ruff check facility_planner tests benchmarks tools notebooks
	$(BIN)/ruff format --check facility_planner tests benchmarks tools notebooks

types: install-dev  # mypy as configured in pyproject.toml (strict on the typed core)
	$(BIN)/mypy

docs: install-dev  # numpydoc validation of the public API (rules in pyproject.toml [tool.numpydoc_validation])
	$(BIN)/python tools/check_docstrings.py

doctest: install-dev  # every example in the package's docstrings runs and prints what it shows
	$(BIN)/python -m pytest -q -p no:cacheprovider --doctest-modules facility_planner

# the edit loop: lint, types and the fast tests (no `slow`, no `browser`); the notebook plugin is not loaded (4 s of
# imports for no test here); mypy reuses .mypy_cache, so an edit re-checks only what it touches
check: lint types
	$(BIN)/python -m pytest -q -p no:nbmake -m "not slow and not browser"

# everything: lint, types, docstrings, doctests, all tests and every notebook (executed by nbmake, offline)
test: lint types docs doctest
	$(BIN)/python -m pytest -q --nbmake tests notebooks

notebooks: install-dev  # rewrite the notebooks from tools/make_notebooks.py (committed without outputs)
	$(BIN)/python tools/make_notebooks.py && $(BIN)/ruff format notebooks

lab: install-dev
	$(BIN)/jupyter lab notebooks

benchmark: install-dev
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .ruff_cache
