# Two commands matter: `make test` and `make demo`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RUN ?= runs/demo

.PHONY: install test test-fast lint demo bench clean

install: $(STAMP)

# Re-installs only when the dependency files change; -c pins every transitive
# package to the versions the project was tested with.
$(STAMP): pyproject.toml requirements-lock.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -c requirements-lock.txt -e '.[test]'
	touch $(STAMP)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: install lint
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not slow"

demo: install
	$(PY) -m experiments.demo --out $(RUN)

bench: install
	$(PY) benchmarks/count_speed.py

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache *.egg-info
