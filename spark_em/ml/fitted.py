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
from spark_em.ml.columns import assembled_columns, with_columns
from spark_em.ml.persistence import ModelReader, ModelWriter
from spark_em.ml.summary import TrainingSummary

Outputs = tuple[list[StructField], Callable[[np.ndarray], Any]]


class FittedModel(Model, MLWritable, MLReadable):
    """The base of every fitted spark-em model (see the module's docstring).

    Models are made by their estimator's ``fit`` or read by ``load``; each saves through
    Spark's writers (``save``, ``write().overwrite().save``) and holds the summary of its fit.

    Parameters
    ----------
    summary : TrainingSummary, optional
        The summary of the fit that made the model; None for a model made otherwise.

    Examples
    --------
    >>> from spark_em.ml import FittedModel, GaussianMixture
    >>> model = GaussianMixture(k=3).fit(df)
    >>> isinstance(model, FittedModel), model.hasSummary
    (True, True)
    >>> model.write().overwrite().save("models/gmm")
    >>> FittedModel.named("spark_em.ml.gaussian.GaussianMixtureModel").load("models/gmm")
    """

    summary_class: ClassVar[type[TrainingSummary]] = TrainingSummary
    key_params: ClassVar[tuple[str, ...]] = ()  # what repr(model) shows besides its uid
    _registry: ClassVar[dict[str, type[FittedModel]]] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        FittedModel._registry[f"{cls.__module__}.{cls.__name__}"] = cls

    def __init__(self, summary: TrainingSummary | None = None):
        super().__init__()
        self._summary = summary
        # the columns VectorAssembler built the features column from, when its metadata
        # named them all: the pyfunc then also scores a wide frame of those columns
        self._input_columns: list[str] | None = None

    def _remember_inputs(self, dataset) -> None:
        """Keep the names of the columns ``dataset``'s features column was assembled from."""
        column = self.getOrDefault("featuresCol")
        self._input_columns = (
            list(column) if isinstance(column, list) else assembled_columns(dataset, column)
        )

    def _repr_params(self) -> tuple[str, ...]:
        """The params ``repr`` shows: ``key_params``, or more where the model's kind needs."""
        return self.key_params

    def __repr__(self) -> str:
        shown = [
            f"{name}={self.getOrDefault(name)!r}"
            for name in self._repr_params()
            if self.hasParam(name) and self.isDefined(name)
        ]
        return f"{type(self).__name__}({', '.join([*shown, f'uid={self.uid!r}'])})"

    @classmethod
    def named(cls, name: str) -> type[FittedModel]:
        """The model class registered as ``name`` (``module.Class``, as metadata spells it).

        Parameters
        ----------
        name : str
            The class's module and name, such as
            ``"spark_em.ml.gaussian.GaussianMixtureModel"``.

        Returns
        -------
        type
            The registered subclass of ``FittedModel`` (an ``InputError`` names the known
            ones when ``name`` is not one of them).
        """
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
        present, matrix = self._pandas_rows(frame)
        return self._pandas_outputs(frame, present, matrix)

    def _pandas_rows(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        """(which rows of ``frame`` have their features, those rows as a matrix or None)."""
        column, wide = self.getOrDefault("featuresCol"), self._input_columns
        if isinstance(column, str) and column in frame.columns:
            values = frame[column]
            present = values.notna().to_numpy()
            matrix = _matrix(values[present]) if present.any() else None
        elif wide and all(name in frame.columns for name in wide):
            try:  # one column per feature, as every MLflow flavor is served
                matrix = frame[wide].to_numpy(dtype=np.float64)
            except (TypeError, ValueError):
                raise InputError(
                    f"model_input's columns {', '.join(wide)} must hold numbers"
                ) from None
            present = np.ones(len(frame), dtype=bool)
            matrix = matrix if len(frame) else None
        else:
            if isinstance(column, list):
                raise InputError(
                    f"model_input needs the columns {', '.join(column)} (the model's "
                    f"featuresCol); it has {', '.join(map(str, frame.columns))}"
                )
            also = f" nor the columns it was assembled from ({', '.join(wide)})" if wide else ""
            raise InputError(
                f"model_input has no column {column!r} (the model's featuresCol){also}; "
                f"it has {', '.join(map(str, frame.columns))}"
            )
        return present, matrix

    def _pandas_outputs(self, frame: pd.DataFrame, present: np.ndarray, matrix) -> pd.DataFrame:
        """``_outputs``' columns for ``frame``'s rows, null where a row is not ``present``."""
        fields, compute = self._outputs()
        computed = compute(matrix) if matrix is not None else None
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
        """An input example for MLflow: up to three of ``_example_rows``, one column per
        input column when the model knows the columns it was assembled from (as every MLflow
        flavor is served), else in the features column."""
        rows = np.asarray(self._example_rows(), dtype=np.float64)[:3]
        if self._input_columns and len(self._input_columns) == rows.shape[1]:
            return pd.DataFrame(rows, columns=self._input_columns)
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
        inputs = {} if self._input_columns is None else {"inputColumns": self._input_columns}
        return {**self._extra(), **inputs, "summary": summary}

    @classmethod
    def _rebuilt(cls, arrays: dict[str, np.ndarray], metadata: dict[str, Any]) -> FittedModel:
        """The model ``_metadata`` and ``_arrays`` describe; fields or arrays this class does
        not write are refused (an edited file, or another version's)."""
        if not isinstance(metadata, dict):
            raise InputError("the saved model's fields are not a JSON object")
        fields = dict(metadata)
        saved_summary = fields.pop("summary", None)
        inputs = fields.pop("inputColumns", None)
        if inputs is not None and not (
            isinstance(inputs, list) and inputs and all(isinstance(n, str) for n in inputs)
        ):
            raise InputError("the saved model's inputColumns must be a list of column names")
        model = cls._from_saved(arrays, fields)
        model._input_columns = inputs
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
        """A writer for this model: ``save(path)`` to any URI Spark can write, refused when
        the path exists unless ``overwrite()`` (which replaces only a spark-em save).

        Returns
        -------
        MLWriter
            The model's writer (``spark_em.ml.persistence.ModelWriter``).
        """
        return ModelWriter(self)

    @classmethod
    def read(cls) -> MLReader:
        """A reader of this class's saves: ``load(path)`` checks every array against the
        saved metadata.

        Returns
        -------
        MLReader
            The class's reader (``spark_em.ml.persistence.ModelReader``).
        """
        return ModelReader(cls)


def _matrix(values: pd.Series) -> np.ndarray:
    """Rows of lists, arrays or vectors as one n × d matrix (through the vectors' decoder)."""
    rows = [
        np.asarray(v.toArray() if hasattr(v, "toArray") else v, dtype=np.float64) for v in values
    ]
    column = pa.array([r.tolist() for r in rows], pa.list_(pa.float64()))
    return arrow_matrix(column, np.ones(len(rows), dtype=bool))
