"""Pictures the jobs write: a 2-D mixture with its points, mean paths and 2σ ellipses.

matplotlib is optional (the ``plot`` extra): without it a job writes everything else and says in
one line on stderr which picture it left out.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
from pathlib import Path

import numpy as np

from spark_em.models.gaussian_outputs import full_covariances


def _pyplot(path: Path):
    """matplotlib's pyplot on the file-only Agg backend (jobs run without a display), or None
    (having said so) when matplotlib is not installed."""
    if importlib.util.find_spec("matplotlib") is None:
        print(
            f"{path.name} not written: matplotlib is not installed (pip install 'spark-em[plot]')",
            file=sys.stderr,
        )
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def mixture_plot(
    points: np.ndarray, mixture, mean_paths: list[np.ndarray], path: Path, title: str = ""
) -> None:
    """Points, the path of each mean across iterations (start ○, end ●) and 2σ ellipses."""
    plt = _pyplot(path)
    if plt is None:
        return
    from matplotlib.patches import Ellipse

    fig, ax = plt.subplots(figsize=(7, 7))
    ax.scatter(points[:, 0], points[:, 1], s=4, alpha=0.35, color="0.45", label="points")
    colours = plt.cm.tab10(np.arange(len(mixture.means)) % 10)
    for k, (mean, cov) in enumerate(zip(mixture.means, full_covariances(mixture))):
        trail = np.array([m[k] for m in mean_paths]) if mean_paths else mean[None]
        ax.plot(trail[:, 0], trail[:, 1], "-", color=colours[k], lw=1.5)
        ax.plot(*trail[0], "o", mfc="none", mec=colours[k], ms=8)
        ax.plot(
            *mean,
            "o",
            color=colours[k],
            ms=8,
            label=f"component {k}: weight {mixture.weights[k]:.3f}",
        )
        values, vectors = np.linalg.eigh(cov[:2, :2])
        angle = np.degrees(np.arctan2(vectors[1, -1], vectors[0, -1]))
        ax.add_patch(
            Ellipse(
                mean[:2],
                4 * np.sqrt(values[-1]),
                4 * np.sqrt(values[0]),
                angle=angle,
                fill=False,
                color=colours[k],
                lw=2,
            )
        )
    ax.set_aspect("equal")
    ax.set_title(title or "Gaussian mixture: means across iterations and 2σ ellipses")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def regression_plot(
    points: np.ndarray, lines: dict[str, tuple[float, float]], path: Path, title: str = ""
) -> None:
    """A sample of (x, y) points and straight lines given as {label: (intercept, slope)}."""
    plt = _pyplot(path)
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(8, 5.5))
    ax.scatter(
        points[:, 0], points[:, 1], s=3, alpha=0.3, color="0.5", label="sample of the points"
    )
    xs = np.linspace(points[:, 0].min(), points[:, 0].max(), 2) if len(points) else np.array([0, 1])
    for (label, (intercept, slope)), style in zip(
        lines.items(), itertools.cycle(["-", "--", ":", "-."])
    ):
        ax.plot(
            xs,
            intercept + slope * xs,
            style,
            lw=2,
            label=f"{label}: y = {slope:.4f}·x {intercept:+.4f}",
        )
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(title or "Weighted least squares")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def loss_plot(losses: list[float], path: Path, title: str = "") -> None:
    """The loss at each iteration, on a log scale."""
    plt = _pyplot(path)
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.semilogy(np.arange(1, len(losses) + 1), losses, "-o", ms=3)
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss ½ Σ w (W·X − y)²")
    ax.set_title(title or "Gradient descent")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
