# Two commands matter: `make test` and `make demo`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RUN ?= runs/demo

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install postgres chromium bench-data test test-fast lint docs demo bench clean

install: $(STAMP)

# Re-installs only when the dependency files change; -c pins every transitive
# package to the versions the project was tested with.
$(STAMP): pyproject.toml requirements-lock.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -c requirements-lock.txt -e '.[test,docs]'
	touch $(STAMP)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# docs/ into site/ with MkDocs (mkdocs.yml); --strict fails the build on any warning,
# among them a link to a missing page or heading. `make test` (and so CI) runs it.
docs: install
	$(VENV)/bin/mkdocs build --strict --site-dir site

# The shared-storage tests start a throwaway PostgreSQL server on loopback; install
# Debian's postgresql if it is missing. If that fails, the test says so and fails.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || \
	  { echo "make: installing Debian's postgresql for the storage tests"; \
	    $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql >/dev/null; } || \
	  echo "make: could not install postgresql; the PostgreSQL storage test will fail and say why"

# The report test opens a report in a real headless browser: Debian's chromium,
# installed the same way when it is missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || \
	  { echo "make: installing Debian's chromium for the report test"; \
	    $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; } || \
	  echo "make: could not install chromium; the report's browser test will fail and say why"

# Benchmark data from Debian (no download at run time): Fashion-MNIST's IDX files in
# /usr/share/datasets/fashion-mnist, which --data fashion-mnist reads by default.
# CIFAR-10 and notMNIST for the benchmarks are in ../shared/data (see its README).
bench-data: install
	@ls /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz >/dev/null 2>&1 || \
	  { echo "make: installing Debian's dataset-fashion-mnist for the benchmarks"; \
	    $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq dataset-fashion-mnist >/dev/null; }
	@ls /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz >/dev/null

# One test process per core (at most 4): the suite is mostly one process at a time
# otherwise, and a 2-core machine sat half idle. Each module runs whole in one process
# (loadscope), so a module's expensive fixture is made once.
TEST_WORKERS ?= --numprocesses=auto --maxprocesses=4 --dist=loadscope

test: install lint docs postgres chromium
	$(PY) -m pytest -q $(TEST_WORKERS)

# Minutes less: no Ray, no other processes, no database or browser (CI runs them all).
test-fast: install
	$(PY) -m pytest -q $(TEST_WORKERS) -m "not slow and not ray and not subprocess and not postgres and not browser"

demo: install
	$(PY) -m experiments.demo --out $(RUN)

bench: install
	$(PY) benchmarks/count_speed.py

clean:
	rm -rf $(VENV) runs site .pytest_cache .ruff_cache *.egg-info
