"""A corpus of bad input, as a user meets it on the console: every case ends with exit status 2
and one line naming the problem (and the file and line where there is one), no Java stack
trace, and no output directory. Row-level problems can be dropped and counted instead."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOG4J = ROOT / "spark_em" / "conf" / "log4j2.properties"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def run_cases(tmp_path: Path, cases: list) -> dict[int, tuple[int, list[str]]]:
    """{case: (exit status, console lines)} from one run of tests/helpers/run_cases.py."""
    spec = write(
        tmp_path / "cases.json", json.dumps([[job, [str(a) for a in args]] for job, args in cases])
    )
    env = dict(
        os.environ,
        PYSPARK_PYTHON=sys.executable,
        PYSPARK_SUBMIT_ARGS=(
            f"--properties-file {ROOT / 'spark-defaults.conf'} "
            f'--driver-java-options "-Dlog4j2.configurationFile=file:{LOG4J}" pyspark-shell'
        ),
    )
    script = ROOT / "tests" / "helpers" / "run_cases.py"
    done = subprocess.run(
        [sys.executable, str(script), str(spec)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results, current, lines = {}, None, []
    for line in done.stderr.splitlines():
        if line.startswith("=== case "):
            current, lines = int(line.split()[2]), []
        elif line.startswith("=== exit "):
            results[current] = (int(line.split()[3]), lines)
            current = None
        elif current is not None and line.strip():
            lines.append(line)
    return results


def test_bad_input_corpus(netflix_dir, tmp_path):
    d = tmp_path
    matrix = ["--k", "1", "--input"]
    triples = ["--format", "triples", "--k", "1", "--input"]
    (d / "nodata").mkdir()
    write(d / "nodata" / "_SUCCESS", "")
    (d / "taken").mkdir()
    good = write(d / "good.txt", "1 2 3\n4 0 5\n2 2 0\n")
    (d / "cut").mkdir()
    write(d / "cut" / "model.json", '{"k": 2, "means": [[1, 2, 3], [4, 5')
    (d / "tampered").mkdir()
    write(
        d / "tampered" / "model.json",
        json.dumps(
            {
                "k": 2,
                "means": [[1, 2, 3, 4], [4, 5, 6, 7]],
                "variances": [1, 1],
                "weights": [0.5, 0.5],
            }
        ),
    )
    corpus = [  # (job, arguments before --out, what the one line must say)
        (
            "fit_gmm",
            matrix + [write(d / "ragged.txt", "1 2 3\n4 5\n")],
            "ragged.txt line 2: 2 values, expected 3 as on the rows before",
        ),
        (
            "fit_gmm",
            matrix + [write(d / "token.txt", "1 2 3\n4 x 6\n")],
            "token.txt line 2: column 2: 'x' is not a number",
        ),
        (
            "fit_gmm",
            matrix + [write(d / "nan.txt", "1 2 3\n4 nan 6\n")],
            "nan.txt line 2: column 2: nan is not a finite number",
        ),
        (
            "fit_gmm",
            matrix + [write(d / "inf.txt", "1 inf 3\n")],
            "inf.txt line 1: column 2: inf is not a finite number",
        ),
        (
            "fit_gmm",
            matrix + [write(d / "negative.txt", "1 2 3\n4 5 -2\n")],
            "negative.txt line 2: column 3: negative value -2",
        ),
        ("fit_gmm", matrix + [write(d / "empty.txt", "")], "empty.txt: no data rows"),
        ("fit_gmm", matrix + [d / "nodata"], "the directory holds no data files"),
        ("fit_gmm", matrix + [d / "missing.txt"], "missing.txt: no such file or directory"),
        ("fit_gmm", ["--k", "9", "--input", good], "--k 9 is larger than the number of rows (3)"),
        ("fit_gmm", ["--k", "abc", "--input", good], "--k: 'abc' is not a number"),
        (
            "fit_gmm",
            ["--seeds", "1-x", "--input", good],
            "--seeds: '1-x' is not a number, a list (1,12) or a range (0-4)",
        ),
        (
            "fit_gmm",
            triples
            + [write(d / "range.csv", "user,item,rating\n1,1,4\n2,1,7\n"), "--rating-range", "1,5"],
            "user 2 item 1: rating 7.0 is outside the declared range 1–5",
        ),
        (
            "fit_gmm",
            triples + [write(d / "twice.csv", "user,item,rating\n1,1,4\n2,1,3\n1,1,5\n")],
            "user 1 item 1 is rated more than once (4 and 5)",
        ),
        (
            "fit_gmm",
            triples + [write(d / "zero.csv", "user,item,rating\n1,1,4\n2,1,0\n")],
            "user 2 item 1: rating 0.0 is not positive (0 marks a missing entry)",
        ),
        (
            "fit_gmm",
            triples + [write(d / "word.csv", "user,item,rating\n1,1,4\n2,1,good\n")],
            "user 2 item 1: rating good is not a number",
        ),
        (
            "fit_gmm",
            triples + [write(d / "cols.csv", "who,item,rating\n1,1,4\n")],
            "no column 'user'; the records have who, item, rating",
        ),
        (
            "fit_wols",
            ["--input", write(d / "w.csv", "y,w,x\n1,1,0.5\n2,-1,1.5\n3,2,2\n"), "--weight", "w"],
            "w.csv row 2: weight -1.0 is not a finite number >= 0",
        ),
        (
            "fit_wols",
            [
                "--input",
                write(d / "winf.csv", "y,w,x\n1,1,0.5\n2,inf,1.5\n3,2,2\n"),
                "--weight",
                "w",
            ],
            "winf.csv row 2: weight inf is not a finite number >= 0",
        ),
        ("fit_wols", ["--input", write(d / "nox.csv", "y,w,z\n1,1,0.5\n")], "no column 'x'"),
        (
            "fit_gmm",
            ["--input", good, "--from-model", d / "cut"],
            "model.json: not a readable model",
        ),
        (
            "fit_gmm",
            ["--input", good, "--from-model", d / "tampered"],
            "model.json: the model does not fit: means is (2, 4), expected K×3 for this input",
        ),
    ]
    first_run = (
        "fit_gmm",
        [
            "--input",
            good,
            "--k",
            "1",
            "--checkpoint",
            d / "ck",
            "--max-iter",
            "2",
            "--out",
            d / "first",
        ],
        None,
    )
    later = [
        (
            "fit_gmm",
            ["--input", good, "--k", "2", "--checkpoint", d / "ck", "--resume", "--max-iter", "2"],
            "was written for another run: it differs in k",
        ),
        ("fit_gmm", ["--input", good, "--k", "1"], "exists"),  # --out d/taken
    ]
    cases = [first_run] + corpus + later
    outs = [None] + [d / f"out{i}" for i in range(len(corpus) + len(later) - 1)] + [d / "taken"]
    argv = [
        (job, args + (["--out", out] if out else [])) for (job, args, _), out in zip(cases, outs)
    ]
    results = run_cases(d, argv)
    assert results[0][0] == 0, results[0]
    assert len(cases) - 1 >= 15
    for i, (_job, args, message) in enumerate(cases[1:], start=1):
        status, lines = results[i]
        assert status == 2, (args, lines)
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], (
            args,
            lines,
        )
        if outs[i] != d / "taken":
            assert not outs[i].exists(), args
    assert sorted(os.listdir(d / "taken")) == []
    leftovers = [p.name for p in d.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_bad_rows_can_be_dropped_and_counted(spark, tmp_path, capsys):
    from spark_em import cli
    from spark_em.cli import fit_gmm

    text = write(tmp_path / "m.txt", "1 2 3\n4 5\n4 x 6\n1 nan 2\n3 3 -1\n5 4 3\n2 0 1\n")
    assert (
        cli.main_wrapper(
            fit_gmm.main,
            [
                "--input",
                str(text),
                "--k",
                "1",
                "--on-bad-rows",
                "drop",
                "--out",
                str(tmp_path / "o"),
            ],
        )
        == 0
    )
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert (metrics["n_rows"], metrics["n_dropped"]) == (3, 4)
    short_first = write(tmp_path / "s.txt", "4 5\n1 2 3\n4 0 6\n7 8 9\n")  # the odd row first
    assert (
        cli.main_wrapper(
            fit_gmm.main,
            [
                "--input",
                str(short_first),
                "--k",
                "1",
                "--on-bad-rows",
                "drop",
                "--out",
                str(tmp_path / "s"),
            ],
        )
        == 0
    )
    metrics = json.loads((tmp_path / "s" / "metrics.json").read_text())
    assert (metrics["n_rows"], metrics["n_cols"], metrics["n_dropped"]) == (3, 3, 1)
    records = write(tmp_path / "r.csv", "user,item,rating\n1,1,4\n1,1,5\n2,1,nan\n2,2,3\n3,1,9\n")
    assert (
        cli.main_wrapper(
            fit_gmm.main,
            [
                "--input",
                str(records),
                "--format",
                "triples",
                "--k",
                "1",
                "--rating-range",
                "1,5",
                "--on-bad-rows",
                "drop",
                "--out",
                str(tmp_path / "t"),
            ],
        )
        == 0
    )
    metrics = json.loads((tmp_path / "t" / "metrics.json").read_text())
    assert (metrics["n_ratings"], metrics["n_dropped"]) == (1, 4)
