"""What the built sdist and wheel hold: the package with its configuration files and
``py.typed``, the licence; not the tests. Exits non-zero, listing every problem.

    python check_wheel.py DIST_DIR
"""

from __future__ import annotations

import sys
import tarfile
import zipfile
from pathlib import Path


def problems_of(dist: Path) -> list[str]:
    import spark_em

    wheels, sdists = sorted(dist.glob("spark_em-*.whl")), sorted(dist.glob("spark_em-*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        return [f"expected one wheel and one sdist in {dist}, found {wheels + sdists}"]
    names = set(zipfile.ZipFile(wheels[0]).namelist())
    version = spark_em.__version__
    problems = [
        f"the wheel has no {name}"
        for name in (
            "spark_em/py.typed",
            "spark_em/conf/log4j2.properties",
            "spark_em/_version.py",
            "spark_em/ml/__init__.py",
        )
        if name not in names
    ]
    problems += [f"the wheel holds {n}" for n in names if n.startswith(("tests/", "jobs/"))]
    if not any(n.endswith(".dist-info/licenses/LICENSE") for n in names):
        problems.append("the wheel carries no LICENSE")
    if not wheels[0].name.startswith(f"spark_em-{version}-"):
        problems.append(f"the wheel {wheels[0].name} is not version {version}")
    with tarfile.open(sdists[0]) as sdist:
        held = {Path(*Path(m).parts[1:]).as_posix() for m in sdist.getnames()}
    for name in ("LICENSE", "README.md", "pyproject.toml", "spark_em/py.typed"):
        if name not in held:
            problems.append(f"the sdist has no {name}")
    return problems


if __name__ == "__main__":
    found = problems_of(Path(sys.argv[1]))
    print("\n".join(found) or "the sdist and wheel hold what they should")
    sys.exit(1 if found else 0)
