"""The fitted-model protocol and the summaries: every model class is registered and provides
what persistence and MLflow call; summaries are attribute objects that round-trip."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest

import spark_em.ml as ml
from spark_em.errors import InputError
from spark_em.ml.fitted import FittedModel
from spark_em.ml.summary import TrainingSummary

PROTOCOL = ("_outputs", "_example_rows", "_arrays", "_from_saved")
# every model class importing spark_em.ml registered: a new family is checked here unasked
MODELS = sorted(FittedModel._registry.values(), key=lambda c: c.__name__)


def test_the_registry_holds_every_exported_model():
    exported = {getattr(ml, name) for name in ml.__all__}
    assert set(MODELS) == {
        c for c in exported if isinstance(c, type) and issubclass(c, FittedModel)
    } - {FittedModel}
    assert ml.GaussianMixtureModel in MODELS and len(MODELS) >= 5


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_every_model_is_registered_and_provides_the_protocol(cls):
    assert FittedModel.named(f"{cls.__module__}.{cls.__name__}") is cls
    assert (
        issubclass(cls.summary_class, TrainingSummary) and cls.summary_class is not TrainingSummary
    )
    # each hook is the class's own, or (for the recommender's features-free outputs) replaced
    # by the method that uses it
    own = {name for name in PROTOCOL if getattr(cls, name) is not getattr(FittedModel, name)}
    if cls is ml.MixtureRecommenderModel:
        assert own == {"_arrays", "_from_saved"}
        assert cls._score_pandas is not FittedModel._score_pandas
        assert cls._input_example is not FittedModel._input_example
        assert cls._transform is not FittedModel._transform
    else:
        assert own == set(PROTOCOL)
    assert cls().hasSummary is False
    with pytest.raises(RuntimeError, match="No training summary"):
        _ = cls().summary


def test_an_unknown_class_is_refused_by_name():
    with pytest.raises(InputError, match="'os.path' is not a spark-em model class"):
        FittedModel.named("os.path")


@dataclass(kw_only=True, repr=False)
class _Figures(TrainingSummary):
    objective: ClassVar[str] = "cost"

    cost: float
    costHistory: list[float]
    label: str = "x"


def test_summaries_are_attributes_that_round_trip():
    summary = _Figures(numIter=3, converged=True, cost=1.5, costHistory=[4.0, 2.0, 1.5])
    assert summary.objectiveHistory == [4.0, 2.0, 1.5]
    saved = summary.asDict()
    assert saved == {
        "numIter": 3,
        "converged": True,
        "cost": 1.5,
        "costHistory": [4.0, 2.0, 1.5],
        "label": "x",
    }
    assert _Figures.fromDict(saved) == summary
    # the finite numbers only: no booleans, lists or text
    assert summary.metrics() == {"numIter": 3.0, "cost": 1.5}
    assert "costHistory" not in repr(summary) and "cost=1.5" in repr(summary)


def test_a_summary_with_figures_unknown_or_missing_is_refused():
    with pytest.raises(InputError, match="does not know: surprise"):
        _Figures.fromDict(
            {"numIter": 1, "converged": True, "cost": 1.0, "costHistory": [], "surprise": 2}
        )
    with pytest.raises(InputError, match="incomplete"):
        _Figures.fromDict({"numIter": 1, "converged": True})
