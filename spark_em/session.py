"""The SparkSession the jobs use: the one spark-submit configured, or a local one."""

from __future__ import annotations

import os
import sys


def get_spark(app_name: str = "spark-em"):
    """The active session, or a new one; ``local[*]`` when nothing names a master.

    spark-submit passes ``spark-defaults.conf`` (and ``--master``) through the JVM's system
    properties, which the builder reads. Run as a plain ``python`` script, executors use this
    interpreter unless ``PYSPARK_PYTHON`` says otherwise.
    """
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    # Under spark-submit the JVM exists already and holds --master / spark-defaults.conf; a
    # master set here would override them.
    if "PYSPARK_GATEWAY_PORT" not in os.environ and "--master" not in os.environ.get(
            "PYSPARK_SUBMIT_ARGS", ""):
        builder = builder.master("local[*]")
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(os.environ.get("SPARK_EM_LOG_LEVEL", "ERROR"))
    return spark
