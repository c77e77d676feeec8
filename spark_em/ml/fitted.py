"""What every fitted spark-em model provides, declared once: ``FittedModel``.

A model class subclasses it and is registered by doing so (under its module and name, the
name Spark ML's metadata records). Persistence and MLflow reach every model through this
protocol and the registry, never by its class name:

- **outputs**: ``_outputs()`` gives the columns ``transform`` adds and ``compute(X)``, their
  values for a block of rows; ``transform`` (one ``mapInArrow``) and the MLflow pyfunc
  (``_score_pandas``, numpy only) both run it;
- **persistence**: ``_arrays()`` (numbers to save), ``_extra()`` (the model's own fields, as
  JSON), ``_frames()`` (DataFrames kept beside it, rarely), and ``_from_saved(arrays,
  extra)`` to rebuild it; the summary is saved and rebuilt with them (``summary_class``);
- **MLflow**: ``_example_rows()`` (rows the model can score, built from its parameters) give
  the input example and signature (``_input_example``);
- **summary**: ``hasSummary`` and ``summary`` (a ``TrainingSummary``), as MLlib's models.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pyarrow as pa
from pyspark.ml import Model
from pyspark.ml.linalg import VectorUDT
from pyspark.ml.util import MLReadable, MLReader, MLWritable, MLWriter
from pyspark.sql.types import StructField

from spark_em.errors import InputError
from spark_em.io.vectors import arrow_matrix
from spark_em.ml.columns import with_columns
from spark_em.ml.persistence import ModelReader, ModelWriter
from spark_em.ml.summary import TrainingSummary

Outputs = tuple[list[StructField], Callable[[np.ndarray], Any]]


class FittedModel(Model, MLWritable, MLReadable):
    """The base of every fitted spark-em model (see the module's docstring)."""

    summary_class: ClassVar[type[TrainingSummary]] = TrainingSummary
    key_params: ClassVar[tuple[str, ...]] = ()  # what repr(model) shows besides its uid
    _registry: ClassVar[dict[str, type[FittedModel]]] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        FittedModel._registry[f"{cls.__module__}.{cls.__name__}"] = cls

    def __init__(self, summary: TrainingSummary | None = None):
        super().__init__()
        self._summary = summary

    def __repr__(self) -> str:
        shown = [
            f"{name}={self.getOrDefault(name)!r}"
            for name in self.key_params
            if self.hasParam(name) and self.isDefined(name)
        ]
        return f"{type(self).__name__}({', '.join([*shown, f'uid={self.uid!r}'])})"

    @classmethod
    def named(cls, name: str) -> type[FittedModel]:
        """The model class registered as ``name`` (``module.Class``, as metadata spells it)."""
        try:
            return cls._registry[name]
        except KeyError:
            known = ", ".join(sorted(k.rpartition(".")[2] for k in cls._registry))
            raise InputError(f"{name!r} is not a spark-em model class ({known})") from None

    # --- the summary

    @property
    def hasSummary(self) -> bool:
        """Whether the model holds the summary of its fit (a saved model keeps it)."""
        return self._summary is not None

    @property
    def summary(self):
        """The fit's summary; a ``RuntimeError`` when the model has none, as in MLlib."""
        if self._summary is None:
            raise RuntimeError(f"No training summary available for this {type(self).__name__}")
        return self._summary

    # --- outputs

    def _outputs(self) -> Outputs:
        """The output columns and ``compute(X)``: their values for a block of rows X (n × d),
        one per column (n numbers, or n × m for a vector column)."""
        raise NotImplementedError

    def _transform(self, dataset):
        return with_columns(dataset, self.getOrDefault("featuresCol"), *self._outputs())

    def _score_pandas(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``_outputs`` on the rows of a pandas DataFrame with the features column (lists or
        arrays of numbers; a null row gets null outputs): the MLflow pyfunc's ``predict``."""
        column = self.getOrDefault("featuresCol")
        if column not in frame.columns:
            raise InputError(
                f"model_input has no column {column!r} (the model's featuresCol); "
                f"it has {', '.join(map(str, frame.columns))}"
            )
        values = frame[column]
        present = values.notna().to_numpy()
        fields, compute = self._outputs()
        computed = compute(_matrix(values[present])) if present.any() else None
        out = {}
        for i, field in enumerate(fields):
            result = None if computed is None else np.asarray(computed[i])
            if isinstance(field.dataType, VectorUDT):  # a list per row
                column_values: list = [None] * len(frame)
                for row, vector in zip(np.flatnonzero(present), [] if result is None else result):
                    column_values[row] = vector.tolist()
                out[field.name] = column_values
                continue
            full = np.full(len(frame), np.nan)
            if result is not None:
                full[present] = result
            if field.dataType.typeName() == "integer":
                out[field.name] = (
                    full.astype(np.int64)
                    if present.all()
                    else pd.Series(full).astype("Int64").array
                )
            else:
                out[field.name] = full
        return pd.DataFrame(out, index=frame.index)

    # --- MLflow

    def _example_rows(self) -> np.ndarray:
        """A few rows the model can score, built from its parameters (the means, say)."""
        raise NotImplementedError

    def _input_example(self) -> pd.DataFrame:
        """An input example for MLflow: up to three of ``_example_rows`` in the features column."""
        rows = np.asarray(self._example_rows(), dtype=np.float64)[:3]
        return pd.DataFrame({self.getOrDefault("featuresCol"): [r.tolist() for r in rows]})

    # --- persistence

    def _arrays(self) -> dict[str, np.ndarray]:
        """The model's numbers, by name, as persistence saves them."""
        raise NotImplementedError

    def _extra(self) -> dict[str, Any]:
        """The model's own fields besides its arrays and summary (JSON)."""
        return {}

    def _frames(self) -> dict:
        """DataFrames the model keeps and saves beside its arrays (none by default)."""
        return {}

    def _attach_frames(self, frames: dict) -> None:
        """Take back the DataFrames ``_frames`` gave, read from a save."""

    @classmethod
    def _from_saved(cls, arrays: dict[str, np.ndarray], extra: dict[str, Any]) -> FittedModel:
        """The model from its arrays and fields, checked (an ``InputError`` says what is wrong)."""
        raise NotImplementedError

    def _metadata(self) -> dict[str, Any]:
        """What a save keeps besides the arrays: the model's fields and its summary."""
        summary = None if self._summary is None else self._summary.asDict()
        return {**self._extra(), "summary": summary}

    @classmethod
    def _rebuilt(cls, arrays: dict[str, np.ndarray], metadata: dict[str, Any]) -> FittedModel:
        """The model ``_metadata`` and ``_arrays`` describe; fields or arrays this class does
        not write are refused (an edited file, or another version's)."""
        if not isinstance(metadata, dict):
            raise InputError("the saved model's fields are not a JSON object")
        fields = dict(metadata)
        saved_summary = fields.pop("summary", None)
        model = cls._from_saved(arrays, fields)
        unknown = sorted(set(fields) - set(model._extra())) + sorted(
            f"array {name!r}" for name in set(arrays) - set(model._arrays())
        )
        if unknown:
            raise InputError(
                f"the saved model holds what this version does not write: {', '.join(unknown)}"
            )
        if saved_summary is not None:
            model._summary = cls.summary_class.fromDict(saved_summary)
        return model

    def write(self) -> MLWriter:
        return ModelWriter(self)

    @classmethod
    def read(cls) -> MLReader:
        return ModelReader(cls)


def _matrix(values: pd.Series) -> np.ndarray:
    """Rows of lists, arrays or vectors as one n × d matrix (through the vectors' decoder)."""
    rows = [
        np.asarray(v.toArray() if hasattr(v, "toArray") else v, dtype=np.float64) for v in values
    ]
    column = pa.array([r.tolist() for r in rows], pa.list_(pa.float64()))
    return arrow_matrix(column, np.ones(len(rows), dtype=bool))
