"""Execute notebooks headless in a fresh kernel and write them back with their outputs.

    python notebooks/execute.py [NOTEBOOK ...]     # default: every notebook in this folder

Each runs with this folder as its working directory; a cell error stops with a non-zero exit.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
TIMEOUT_SECONDS = 900


def execute(path: Path, env: dict | None = None) -> nbformat.NotebookNode:
    """The notebook run in a fresh kernel (with ``env`` as its environment, if given)."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=TIMEOUT_SECONDS,
        kernel_name="python3",
        resources={"metadata": {"path": str(HERE)}},
    )
    client.execute(**({"env": env} if env is not None else {}))
    return notebook


def quiet_spark() -> None:
    """Kernels started from here launch Spark with the project's quiet console logging."""
    import spark_em

    conf = Path(spark_em.__file__).parent / "conf" / "log4j2.properties"
    os.environ.setdefault(
        "PYSPARK_SUBMIT_ARGS",
        f'--driver-java-options "-Dlog4j2.configurationFile=file:{conf}" pyspark-shell',
    )
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


def main(argv: list[str]) -> int:
    quiet_spark()
    paths = [Path(a) for a in argv] or sorted(HERE.glob("[0-9][0-9]_*.ipynb"))
    for path in paths:
        start = time.perf_counter()
        notebook = execute(path)
        nbformat.write(notebook, path)
        print(f"{path.name}: executed in {time.perf_counter() - start:.1f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
