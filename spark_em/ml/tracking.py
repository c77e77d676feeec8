"""What a fit reports to an experiment tracker, when one listens.

Every estimator's ``fit`` ends in ``fitted(estimator, model)``; listeners registered by an
integration (``spark_em.mlflow`` registers one when imported) receive each fitted model. When
MLflow is in use in this process (imported, with an active run) and its integration is not
loaded yet, it is loaded then, so a fit inside ``with mlflow.start_run():`` is logged.
"""

from __future__ import annotations

import importlib
import sys
import warnings

_listeners: list = []


def listen(listener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def fitted(estimator, model):
    """Tell the listeners about ``model``; a listener's failure is a warning, never the fit's."""
    if not _listeners and "mlflow" in sys.modules:
        try:
            if sys.modules["mlflow"].active_run() is not None:
                importlib.import_module("spark_em.mlflow")
        except Exception as exc:  # the tracker must never fail the fit
            warnings.warn(f"spark-em: MLflow logging is off ({exc})", stacklevel=2)
    for listener in list(_listeners):
        try:
            listener(estimator, model)
        except Exception as exc:
            warnings.warn(f"spark-em: logging the fit failed ({exc})", stacklevel=2)
    return model


class Tracked:
    """An estimator whose single fits are reported to ``fitted``."""

    def fit(self, dataset, params=None):
        model = super().fit(dataset, params)
        if isinstance(model, (list, tuple)):
            return model
        return fitted(self.copy(params) if params else self, model)
