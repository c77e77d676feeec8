# Set-up on a fresh machine with Python 3.11 and Java 17+: `make run`, `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
JAVA := $(if $(JAVA_HOME),$(JAVA_HOME)/bin/java,java)

# Driver and executors run the venv's Python.
export PYSPARK_PYTHON := $(CURDIR)/$(PY)
export PYSPARK_DRIVER_PYTHON := $(CURDIR)/$(PY)

.PHONY: run test test-fast lint typecheck cluster-test bench notebooks java clean lock \
	test-oldest test-pythons wheel-test docs venv-for

java:
	@full=$$($(JAVA) -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n 1); \
	v=$$(echo "$$full" | sed 's/^1\.//; s/[^0-9].*//'); \
	if [ -z "$$v" ]; then \
	  echo "error: Java not found. spark-em needs Java 17 or newer: install a JDK/JRE 17+ (e.g. 'apt-get install openjdk-17-jre-headless') or set JAVA_HOME." >&2; exit 1; \
	elif [ "$$v" -lt 17 ]; then \
	  echo "error: Java $$full found, but spark-em needs Java 17 or newer: install a JDK/JRE 17+ (e.g. 'apt-get install openjdk-17-jre-headless') or point JAVA_HOME at one." >&2; exit 1; \
	fi

# The project's own runs install the locked versions (requirements/lock.txt, made by `make lock`
# from pyproject.toml's ranges); the package itself declares ranges, tested at both ends.
LOCK := requirements/lock.txt
OLDEST := requirements/oldest.txt
PIP := pip install --quiet --disable-pip-version-check

# A venv ($(2)) of Python $(1) holding the versions of requirements file $(3), and spark-em
# from this tree (editable). uv, pinned, installs them (the same pins pip would take, faster).
UV_VERSION := 0.13.9
define venv
	$(1) -m venv $(2)
	$(2)/bin/python -m $(PIP) uv==$(UV_VERSION)
	$(2)/bin/uv pip install --quiet --python $(2)/bin/python -r $(3)
	$(2)/bin/uv pip install --quiet --python $(2)/bin/python --no-deps -e .
	touch $(2)/.installed
endef

$(STAMP): pyproject.toml $(LOCK)
	$(call venv,$(PYTHON),$(VENV),$(LOCK))

SUBMIT := $(VENV)/bin/spark-submit --properties-file spark-defaults.conf \
	--driver-java-options "-Dlog4j2.configurationFile=file:$(CURDIR)/spark_em/conf/log4j2.properties"

run: java $(STAMP)
	$(SUBMIT) jobs/fit_gmm.py $(ARGS)

# The whole suite in TEST_WORKERS processes (pytest-xdist), each test file in one of them with
# its own local SparkSession: on two cores, a file's driver-side work overlaps another's jobs.
TEST_WORKERS ?= 2
test: java $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

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

# The oldest supported stack (requirements/oldest.txt: Python 3.11, PySpark 3.5, numpy 1.26,
# pandas 1.5.3, pyarrow 14, MLflow 2.21): the unit tests, and the Spark and front-end tests of
# what differs between PySpark versions (engine/compat.py: saving and loading, the ratings'
# id tables, try_cast, text files on the DataFrame backend; Structured Streaming) and of the
# readers and estimators they go through. `make test-oldest OLDEST_TESTS="tests/spark
# tests/frontends"` runs every Spark and front-end test there.
OLDEST_TESTS ?= tests/spark/test_doors.py tests/spark/test_readers.py \
	tests/frontends/test_persistence.py tests/frontends/test_ml.py \
	tests/frontends/test_input_types.py tests/frontends/test_partial_fit.py \
	tests/frontends/test_streaming.py \
	tests/frontends/test_ml_recommender.py::test_recommendations_equal_the_numpy_completion \
	tests/frontends/test_ml_recommender.py::test_new_users_scored_from_their_own_ratings
OLD_VENV := .venv-oldest
$(OLD_VENV)/.installed: pyproject.toml $(OLDEST)
	$(call venv,$(PYTHON),$(OLD_VENV),$(OLDEST))

# Each venv keeps its own compiled kernels (NUMBA_CACHE_DIR): another numba's would not load.
test-oldest: java $(OLD_VENV)/.installed
	PYSPARK_PYTHON=$(CURDIR)/$(OLD_VENV)/bin/python PYSPARK_DRIVER_PYTHON=$(CURDIR)/$(OLD_VENV)/bin/python \
	NUMBA_CACHE_DIR=$(CURDIR)/$(OLD_VENV)/numba-cache \
	  $(OLD_VENV)/bin/python -m pytest tests/unit $(OLDEST_TESTS) $(PYTEST_ARGS)

# The newest supported Python (through pyenv where it is installed): the unit tests and one
# Spark file. 3.11, the oldest, runs everything else; `make test-pythons PYTHONS="3.12 3.13"`
# adds the one between.
PYTHONS ?= 3.13
test-pythons: java
	@for v in $(PYTHONS); do \
	  ver=$$(pyenv versions --bare 2>/dev/null | grep -E "^$$v(\.[0-9]+)?$$" | tail -n 1); \
	  py=$${ver:+$$(pyenv root)/versions/$$ver/bin/python}; py=$${py:-$$(command -v python$$v)}; \
	  if [ -z "$$py" ]; then echo "error: Python $$v not found (python$$v, or pyenv)" >&2; exit 1; fi; \
	  venv=.venv-$$v; \
	  if [ ! -f $$venv/.installed ] || [ $$venv/.installed -ot $(LOCK) ]; then \
	    $(MAKE) --no-print-directory venv-for VENV_PYTHON=$$py VENV_DIR=$$venv VENV_REQS=$(LOCK) || exit 1; \
	  fi; \
	  echo "== Python $$v: $$($$venv/bin/python --version)"; \
	  PYSPARK_PYTHON=$(CURDIR)/$$venv/bin/python PYSPARK_DRIVER_PYTHON=$(CURDIR)/$$venv/bin/python \
	  NUMBA_CACHE_DIR=$(CURDIR)/$$venv/numba-cache \
	    $$venv/bin/python -m pytest -q tests/unit tests/spark/test_doors.py $(PYTEST_ARGS) || exit 1; \
	done

venv-for:
	$(call venv,$(VENV_PYTHON),$(VENV_DIR),$(VENV_REQS))

# The sdist and wheel, and the wheel alone in a new venv outside the tree, beside a
# Databricks-LTS-like stack pinned in the same install: fit, transform, save, load, the jobs.
wheel-test: java $(STAMP)
	rm -rf dist
	$(PY) -m build --outdir dist . >/dev/null
	$(PY) tests/wheel/check_wheel.py dist
	PYTHON=$(PYTHON) tests/wheel/run.sh "$(CURDIR)/dist"

# The documentation site in docs/_build/html, warnings as errors.
docs: $(STAMP)
	$(VENV)/bin/sphinx-build -W --keep-going -q -b html docs docs/_build/html

# Both lock files again from pyproject.toml's ranges, keeping each pin it can (uv's default).
UV := $(VENV)/bin/uv
lock: $(STAMP)
	$(UV) pip compile pyproject.toml --extra test --extra docs --universal --python-version 3.11 -o $(LOCK)
	$(UV) pip compile pyproject.toml --extra test --python-version 3.11 -c requirements/oldest.in -o $(OLDEST)

clean:
	rm -rf $(VENV) $(OLD_VENV) .venv-3.* build dist docs/_build *.egg-info .pytest_cache
