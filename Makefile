# Set-up on a fresh machine with Python 3.11 and Java 17+: `make run`, `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
JAVA := $(if $(JAVA_HOME),$(JAVA_HOME)/bin/java,java)

# Driver and executors run the venv's Python.
export PYSPARK_PYTHON := $(CURDIR)/$(PY)
export PYSPARK_DRIVER_PYTHON := $(CURDIR)/$(PY)

.PHONY: run test test-fast lint typecheck cluster-test bench notebooks java clean

java:
	@full=$$($(JAVA) -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n 1); \
	v=$$(echo "$$full" | sed 's/^1\.//; s/[^0-9].*//'); \
	if [ -z "$$v" ]; then \
	  echo "error: Java not found. spark-em needs Java 17 or newer: install a JDK/JRE 17+ (e.g. 'apt-get install openjdk-17-jre-headless') or set JAVA_HOME." >&2; exit 1; \
	elif [ "$$v" -lt 17 ]; then \
	  echo "error: Java $$full found, but spark-em needs Java 17 or newer: install a JDK/JRE 17+ (e.g. 'apt-get install openjdk-17-jre-headless') or point JAVA_HOME at one." >&2; exit 1; \
	fi

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

SUBMIT := $(VENV)/bin/spark-submit --properties-file spark-defaults.conf \
	--driver-java-options "-Dlog4j2.configurationFile=file:$(CURDIR)/spark_em/conf/log4j2.properties"

run: java $(STAMP)
	$(SUBMIT) jobs/fit_gmm.py $(ARGS)

test: java $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

# ruff's rules (pyproject.toml) and its formatting, checked without changing a file.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# mypy on the layers it covers (pyproject.toml's [tool.mypy] files).
typecheck: $(STAMP)
	$(VENV)/bin/mypy

# The tests that need no JVM (kernels, layers, params): seconds.
test-fast: $(STAMP)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

# A standalone master and two workers on 127.0.0.1, the jobs on them, every process stopped.
cluster-test: java $(STAMP)
	$(PY) -m pytest tests/system/test_cluster.py $(PYTEST_ARGS)

notebooks: java $(STAMP)
	$(PY) notebooks/execute.py

bench: java $(STAMP)
	$(PY) benchmarks/bench_netflix.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
