# Every target creates .venv and installs what it needs, so a fresh clone needs only
# `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Options for `tierline demo`, e.g. `make demo DEMO_ARGS="--port 8080 --customers 5000"`.
DEMO_ARGS ?=

.PHONY: demo test test-fast bench lint format screenshots clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tierline demo $(DEMO_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest

# The quick subset while working: no real processes, browsers or large training runs.
# Bytecode (and pytest's rewritten test modules) is cached even where the environment
# turns that off: collecting every test module is most of a quick run otherwise. Modules
# marked slow as a whole are not even imported (tests/conftest.py), and schemathesis's
# pytest plugin, which only the slow API attack test needs, is not loaded.
test-fast: $(STAMP)
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -m "not slow" --dist load -p no:schemathesis

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

# The staff display's and the model report's screenshots in docs/ (the README's), taken
# again by their browser tests.
screenshots: $(STAMP)
	TIERLINE_UPDATE_SCREENSHOTS=1 $(BIN)/python -m pytest tests/api/display/test_screenshots.py
	TIERLINE_UPDATE_SCREENSHOTS=1 $(BIN)/python -m pytest tests/training/test_report_browser.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var benchmarks/out .pytest_cache .mypy_cache .ruff_cache
