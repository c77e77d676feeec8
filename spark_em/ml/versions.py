"""A model that evolves with a stream, kept as numbered versions under one directory or URI.

``<path>/batch-<id>/`` is a saved model (``spark_em.ml.persistence``) made by the micro-batch
with that id. A save's metadata is written last (and, in a classic session, the save is
renamed into place whole), so a version is complete exactly when its metadata can be read;
the latest complete version is the model. Everything goes through the session's readers and
writers, so the same directory serves a classic session and a Spark Connect client (and the
server-side ``foreachBatch`` of one). Only the newest ``KEEP`` versions stay.
"""

from __future__ import annotations

import re

from spark_em.engine.fs import first_line, path_exists, prepare_target
from spark_em.errors import InputError

KEEP = 2
_VERSION = re.compile(r"/batch-(\d+)/metadata/[^/]*$")


def _root(path: str) -> str:
    return path.rstrip("/")


def version_path(path: str, batch_id: int) -> str:
    """Where the version made by batch ``batch_id`` is saved."""
    return f"{_root(path)}/batch-{int(batch_id):012d}"


def complete_versions(spark, path: str) -> list[int]:
    """The batch ids of the complete versions under ``path``, in order (none when ``path``
    does not exist or holds none). The metadata files are listed, not read: no Spark job."""
    if path_exists(spark, path) is False:  # Spark's reader would warn of it, with a trace
        return []
    try:  # the directory itself, not a glob (Spark warns of a glob that is not a file)
        files = spark.read.option("recursiveFileLookup", "true").text(_root(path)).inputFiles()
    except Exception as exc:  # nothing there yet
        text = first_line(exc)
        if "PATH_NOT_FOUND" in text or "does not exist" in text or "UNABLE_TO_INFER" in text:
            return []
        raise InputError(f"{path}: the model's versions cannot be listed ({text})") from None
    ids = set()
    for name in files:
        found = _VERSION.search(str(name))
        if found:
            ids.add(int(found.group(1)))
    return sorted(ids)


def load_version(spark, model_class, path: str, batch_id: int):
    """The model saved by batch ``batch_id`` under ``path``."""
    return model_class.read().session(spark).load(version_path(path, batch_id))


def save_version(spark, model, path: str, batch_id: int, previous: list[int]) -> None:
    """Save ``model`` as the version of batch ``batch_id``, replacing what a save of the same
    batch stopped half-way left, then remove all but the newest ``KEEP`` versions (of
    ``previous``, the ids listed before, and this one)."""
    target = version_path(path, batch_id)
    prepare_target(spark, target, overwrite=True)
    model.write().session(spark).save(target)
    for old in [*previous, batch_id][:-KEEP]:
        prepare_target(spark, version_path(path, old), overwrite=True)
