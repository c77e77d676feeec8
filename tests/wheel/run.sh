#!/usr/bin/env bash
# The wheel in dist/ installed into a new virtual environment outside the tree, beside a
# Databricks-LTS-like stack pinned in the same `pip install`, then tests/wheel/smoke.py there.
#
#   tests/wheel/run.sh DIST_DIR        (PYTHON: the interpreter for the venv; default python3.11)
set -euo pipefail
dist="$1"
here="$(cd "$(dirname "$0")" && pwd)"
python="${PYTHON:-python3.11}"
# Databricks Runtime 16.4 LTS's Spark and Python packages
pins=(pyspark==3.5.2 numpy==1.26.4 pandas==1.5.3 pyarrow==15.0.2 scipy==1.13.1)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
wheel=$(ls "$dist"/spark_em-*.whl)
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$wheel" "${pins[@]}"
cp "$here/smoke.py" "$work/smoke.py"
cd "$work"
export PYSPARK_PYTHON="$work/venv/bin/python" PYSPARK_DRIVER_PYTHON="$work/venv/bin/python"
# the driver without its console progress bars
export PYSPARK_SUBMIT_ARGS="--conf spark.ui.showConsoleProgress=false pyspark-shell"
"$work/venv/bin/python" smoke.py "$work" "${pins[@]}"
