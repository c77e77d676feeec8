"""Errors a user can cause: bad files, bad options, impossible requests."""

import contextlib
import os
import sys
import types
import warnings


class InputError(ValueError):
    """A problem with the user's input or options; the message says what and where.

    When the problem is one parameter's value, ``param`` names it and the message writes it as
    ``{param}``: the library's message speaks of the parameter (``k 30 is larger than ...``),
    and a front end can speak of its own name for it instead (``--k 30 ...``) through
    ``worded``. Front ends print the message alone (no stack trace) and exit with status 2.

    Parameters
    ----------
    message : str
        What is wrong and where; ``{param}`` in it stands for the parameter's name.
    param : str, optional
        The parameter whose value is wrong, when the problem is one parameter's value.

    Examples
    --------
    >>> from spark_em import InputError
    >>> exc = InputError("{param} 30 is larger than the number of rows (20)", param="k")
    >>> str(exc)
    'k 30 is larger than the number of rows (20)'
    >>> exc.worded({"k": "--k"})
    '--k 30 is larger than the number of rows (20)'
    """

    def __init__(self, message: str, param: str | None = None):
        self.template, self.param = message, param
        super().__init__(self.worded({}))

    def worded(self, names: dict[str, str]) -> str:
        """The message with the parameter called by ``names`` (or by its own name).

        Parameters
        ----------
        names : dict of str to str
            A front end's name for each parameter, by the library's name (``{"k": "--k"}``).

        Returns
        -------
        str
            The message, ``{param}`` replaced by the parameter's name in ``names`` (or by the
            parameter's own name when ``names`` lacks it).
        """
        if self.param is None:
            return self.template
        return self.template.replace("{param}", names.get(self.param, self.param))


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """Warn at the user's line: the first caller outside spark-em and pyspark (a ``fit``
    reached through a Pipeline, a tuner or directly), however deep the library's frames."""
    libraries = tuple(
        os.path.dirname(module.__file__) + os.sep
        for module in (sys.modules[__name__.partition(".")[0]], sys.modules.get("pyspark"))
        if module is not None and module.__file__
    )
    frame: types.FrameType | None = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(libraries):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level + 1)


class ConvergenceWarning(UserWarning):
    """A fit stopped at its iteration cap before its stopping rule was met (scikit-learn's
    ``ConvergenceWarning`` convention): raise ``maxIter`` or loosen ``tol``.

    The fit's model is returned all the same; its ``summary.converged`` is False.

    Examples
    --------
    >>> import warnings
    >>> from spark_em import ConvergenceWarning
    >>> warnings.simplefilter("error", ConvergenceWarning)  # such a fit now raises instead
    >>> warnings.simplefilter("ignore", ConvergenceWarning)  # or says nothing
    """


class DegenerateFitWarning(UserWarning):
    """A fit ended in a model that cannot be trusted as it is (a component with almost no
    weight, predictions outside the observed range): the message says what and what to try.

    The fit's model is returned all the same; ``MaskedGaussianMixture`` and
    ``MixtureRecommender`` also list the problems in its ``summary.warnings``.

    Examples
    --------
    >>> import warnings
    >>> from spark_em import DegenerateFitWarning, MixtureRecommender
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always", DegenerateFitWarning)
    ...     model = MixtureRecommender(k=12, initMode="reference", priorStrength=0.0).fit(ratings)
    >>> [str(w.message) for w in caught if w.category is DegenerateFitWarning]
    >>> model.summary.warnings  # the same problems, kept with the model
    """


# How an InputError raised on an executor reads inside the error Spark gives the driver (a
# Python worker's traceback inside a Py4J or Spark Connect error).
_RAISED = "spark_em.errors.InputError: "


def raised_on_executor(exc: BaseException) -> InputError | None:
    """The library's own error when ``exc`` (from a Spark action) carries one raised on an
    executor, as one ``InputError`` on the driver; None for any other error."""
    text = str(exc)
    java = getattr(exc, "java_exception", None)
    if _RAISED not in text and java is not None:
        text = str(java.toString())
    at = text.rfind(_RAISED)
    if at < 0:
        return _missing_module(text)
    lines = text[at + len(_RAISED) :].splitlines()
    return InputError(lines[0].strip() if lines else "")


_NEEDED = ("spark_em", "numpy", "scipy", "pandas", "pyarrow")


def _missing_module(text: str) -> InputError | None:
    """When the executors' Python cannot import spark-em or what it needs (a driver run with
    a virtual environment's Python while the executors start another), what to set."""
    import os
    import re
    import sys

    found = re.search(r"No module named '([\w.]+)'", text)
    if not found or found.group(1).split(".")[0] not in _NEEDED:
        return None
    python = os.environ.get("PYSPARK_PYTHON", "python3, Spark's default")
    return InputError(
        f"the executors' Python ({python}) cannot import {found.group(1)}: start the session "
        f"with PYSPARK_PYTHON (or spark.pyspark.python) set to a Python that has spark-em, "
        f"such as this driver's: export PYSPARK_PYTHON={sys.executable}"
    )


class executor_errors(contextlib.ContextDecorator):
    """Around a Spark action (or as a decorator): an ``InputError`` raised on an executor comes
    out as that ``InputError``, one line, not as the 40 lines of a Py4J or Connect error."""

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, traceback):
        if exc is None or isinstance(exc, InputError) or not isinstance(exc, Exception):
            return False
        found = raised_on_executor(exc)
        if found is None:
            return False
        raise found from None
