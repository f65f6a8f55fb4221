# Two commands do all the set-up on a fresh machine (see README.md):
#   make serve   bubblewrap if missing, the environment, install, fetch MNIST, start the service
#   make test    the same environment plus system packages, then the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: serve test setup data system-deps sandbox-deps lint format demo clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -e '.[dev,torch]'
	touch $@

setup: $(STAMP)

data: setup
	$(BIN)/grader data fetch

serve: sandbox-deps data
	$(BIN)/grader serve

demo: data
	$(BIN)/grader demo

system-deps:
	sh scripts/install-system-deps.sh

sandbox-deps:
	sh scripts/install-system-deps.sh sandbox

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: setup system-deps data lint
	$(BIN)/python -m pytest -n 2 --dist loadgroup

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
