"""The pyfunc MLflow loads a logged spark-em model with ("models from code": the model is
this file and its artifacts, nothing pickled)."""

import mlflow

from spark_em.mlflow.pyfunc import SparkEmModel

mlflow.models.set_model(SparkEmModel())
