# The two commands of the README: `make up` runs a local cluster, `make test` runs every test.
# Both create the virtual environment first (Python 3.11+ must be installed).
VENV ?= .venv
PYTHON ?= python3

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $@

.PHONY: install up test test-timing bench
install: $(VENV)/.installed

up: $(VENV)/.installed
	$(VENV)/bin/framecast up

test: $(VENV)/.installed
	$(VENV)/bin/pytest

# Timing thresholds (frame gaps, latency): they measure the machine too, so not in `make test`.
test-timing: $(VENV)/.installed
	$(VENV)/bin/pytest -m timing

bench: $(VENV)/.installed
	for script in fanout degradation failover drain join messages turbo relay fuzz; do $(VENV)/bin/python bench/$$script.py; done
