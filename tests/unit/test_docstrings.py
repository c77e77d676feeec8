"""Every public name of the API has a numpydoc docstring: the names ``spark_em`` and
``spark_em.ml`` export, the public methods and properties spark-em defines on those classes
(not those inherited from pyspark unchanged) and the public functions of ``spark_em.mlflow``.

What is checked, so a failure lists every name to fix:

- a docstring (a summary line) on every class, function, method and property;
- a ``Parameters`` section (numpydoc's header with its underline) when the callable takes
  parameters besides ``self``/``cls``, with an entry for each; a class's constructor is
  documented in the class's docstring, as numpydoc does (a dataclass's fields, the
  summaries' figures, may be listed under ``Attributes`` instead), and so are the keywords
  of a method that takes exactly the constructor's (``setParams``);
- a ``Returns`` section when the callable returns a value (by its return annotation, else a
  ``return <value>`` in its source), a ``Yields`` section when it yields;
- an ``Examples`` section on every public class and on the module-level functions.

Exempt: dunder methods, and Params accessors (``getX``/``setX`` whose body only reads or sets
one param): as in pyspark.ml, their one-line docstring ("Gets the value of k or its default
value.", "Sets the value of :py:attr:`k`.") is enough, but they must have it.

No SparkSession is needed: only the classes and functions are inspected.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from collections.abc import Iterator

import spark_em
import spark_em.ml

# Names left out of the check (none today). An exempt class's own members (those its module
# defines) are exempt with it; shared ones are checked anyway.
EXEMPT: set[str] = set()

ACCESSOR = re.compile(r"^(get|set)[A-Z]\w*$")
HEADER = r"^[ \t]*{}[ \t]*\n[ \t]*-{{3,}}[ \t]*$"


def own_doc(obj) -> str:
    """``obj``'s own docstring, cleaned ('' without one): not one inherited from the method it
    overrides (``inspect.getdoc`` would give that), nor the signature a dataclass writes."""
    raw = vars(obj).get("__doc__") if inspect.isclass(obj) else obj.__doc__
    doc = inspect.cleandoc(raw or "")
    if inspect.isclass(obj) and doc.startswith(f"{obj.__name__}("):
        return ""  # dataclasses.dataclass's stand-in for a missing docstring
    return doc if doc.splitlines() and doc.splitlines()[0].strip() else ""


def qualified(obj) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


def section(doc: str, name: str) -> str | None:
    """The body of numpydoc section ``name`` (up to the next section), or None without it."""
    doc = inspect.cleandoc(doc)
    found = re.search(HEADER.format(name), doc, re.MULTILINE)
    if found is None:
        return None
    rest = doc[found.end() :]
    following = re.search(HEADER.format(r"[A-Z][A-Za-z ]+"), rest, re.MULTILINE)
    return rest[: following.start()] if following else rest


def entries(body: str | None) -> set[str]:
    """The names a Parameters (or Attributes) section documents: its unindented lines, ``name``
    or ``name : type``, several names separated by commas."""
    names: set[str] = set()
    for line in textwrap.dedent((body or "").strip("\n")).splitlines():
        if line and not line[0].isspace():
            for name in line.split(" : ")[0].split(","):
                names.add(name.strip().lstrip("*"))
    return names


def parameters(function) -> list[inspect.Parameter]:
    """The parameters a caller passes (``self``/``cls`` left out)."""
    params = list(inspect.signature(function).parameters.values())
    if params and params[0].name in ("self", "cls"):
        params = params[1:]
    return params


def own_nodes(function) -> Iterator[ast.AST]:
    """The nodes of ``function``'s body, nested functions, lambdas and classes left out."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    stack = list(tree.body[0].body)
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(node))


def returns_value(function) -> bool:
    annotation = inspect.signature(function).return_annotation
    if annotation is not inspect.Signature.empty:
        return annotation not in (None, "None", "NoReturn")
    return any(
        isinstance(node, ast.Return)
        and node.value is not None
        and not (isinstance(node.value, ast.Constant) and node.value.value is None)
        for node in own_nodes(function)
    )


def yields(function) -> bool:
    return any(isinstance(node, (ast.Yield, ast.YieldFrom)) for node in own_nodes(function))


def is_accessor(name: str, function) -> bool:
    """A Params getter or setter: its body (after the docstring) is one ``return`` of
    ``self.getOrDefault(self.<param>)`` or ``self._set(<param>=value)``."""
    if not ACCESSOR.match(name):
        return False
    body = ast.parse(textwrap.dedent(inspect.getsource(function))).body[0].body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    if len(body) != 1 or not isinstance(body[0], ast.Return):
        return False
    call = body[0].value
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
        return False
    if call.func.attr == "getOrDefault":  # self.getOrDefault(self.<param>)
        return len(call.args) == 1 and not call.keywords and isinstance(call.args[0], ast.Attribute)
    return (  # self._set(<param>=value): one named keyword, not **kwargs
        call.func.attr == "_set"
        and not call.args
        and len(call.keywords) == 1
        and call.keywords[0].arg is not None
        and isinstance(call.keywords[0].value, ast.Name)
    )


def check_callable(
    where: str, function, problems: list[str], documented_elsewhere: set[str] = frozenset()
) -> None:
    """The docstring of a function or method: summary, Parameters, Returns / Yields."""
    doc = own_doc(function)
    if not doc:
        problems.append(f"{where}: no docstring")
        return
    name = function.__name__
    if is_accessor(name, function):
        return
    wanted = {p.name for p in parameters(function)} - documented_elsewhere
    if wanted:
        body = section(doc, "Parameters")
        if body is None:
            problems.append(f"{where}: no Parameters section")
        else:
            missing = sorted(wanted - entries(body))
            if missing:
                problems.append(f"{where}: Parameters does not document {', '.join(missing)}")
    if yields(function):
        if section(doc, "Yields") is None:
            problems.append(f"{where}: no Yields section")
    elif returns_value(function) and section(doc, "Returns") is None:
        problems.append(f"{where}: no Returns section")


def constructor_names(cls) -> set[str]:
    """The keywords of ``cls``'s constructor when spark-em defines it, else none."""
    owner = next((k for k in cls.__mro__ if "__init__" in vars(k)), object)
    if not owner.__module__.startswith("spark_em"):
        return set()
    return {p.name for p in parameters(cls.__init__) if p.kind is not p.VAR_POSITIONAL}


def check_class(cls, problems: list[str], seen: set[str], exempt: set[str]) -> None:
    """The class's docstring (summary, Examples, its constructor's keywords) and each public
    method and property spark-em defines on it or on a class it inherits from."""
    where = qualified(cls)
    seen.add(where)
    if where in exempt:
        exempt_module = cls.__module__
    else:
        exempt_module = None
        doc = own_doc(cls)
        if not doc:
            problems.append(f"{where}: no docstring")
        else:
            if section(doc, "Examples") is None:
                problems.append(f"{where}: no Examples section")
            keywords = constructor_names(cls)
            if keywords:
                init_doc = vars(cls).get("__init__").__doc__ if "__init__" in vars(cls) else None
                documented = (
                    entries(section(doc, "Parameters"))
                    | entries(section(doc, "Attributes"))
                    | entries(section(init_doc or "", "Parameters"))
                )
                missing = sorted(keywords - documented)
                if missing:
                    problems.append(
                        f"{where}: the constructor's {', '.join(missing)} not in the class's "
                        "Parameters (or Attributes)"
                    )
    keywords = constructor_names(cls)
    for name in sorted(dir(cls)):
        if name.startswith("_"):
            continue
        owner = next((k for k in cls.__mro__ if name in vars(k)), None)
        if owner is None or not owner.__module__.startswith("spark_em"):
            continue  # inherited from pyspark or Python unchanged
        if owner.__module__ == exempt_module:
            continue
        member = vars(owner)[name]
        member_where = f"{qualified(owner)}.{name}"
        if member_where in seen:
            continue
        if isinstance(member, property):
            seen.add(member_where)
            if not (member.__doc__ or "").strip():
                problems.append(f"{member_where}: no docstring (say what the property holds)")
            continue
        function = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
        if not inspect.isfunction(function):
            continue  # a Param, a class attribute, a dataclass field's default
        seen.add(member_where)
        mirrors_constructor = keywords and {p.name for p in parameters(function)} == keywords
        check_callable(member_where, function, problems, keywords if mirrors_constructor else set())


def public_objects(module, names) -> Iterator[tuple[str, object]]:
    for name in names:
        yield name, getattr(module, name)


def check_module(objects, problems: list[str], seen: set[str]) -> int:
    """Check every class and function in ``objects``; the number of names checked."""
    exempt = set(EXEMPT)
    for _, obj in objects:
        if inspect.isclass(obj):
            check_class(obj, problems, seen, exempt)
        elif callable(obj):
            where = qualified(obj)
            if where in seen:
                continue
            seen.add(where)
            check_callable(where, obj, problems)
            doc = own_doc(obj)
            if doc and section(doc, "Examples") is None:
                problems.append(f"{where}: no Examples section")
    return len(seen)


def report(problems: list[str]) -> str:
    return f"{len(problems)} docstring problems:\n" + "\n".join(sorted(problems))


def test_the_exempt_names_exist():
    """An exemption names a class the walk reaches (a misspelt one would exempt nothing)."""
    reached = {qualified(getattr(spark_em.ml, n)) for n in spark_em.ml.__all__}
    assert EXEMPT <= reached, sorted(EXEMPT - reached)


def test_the_public_api_has_numpydoc_docstrings():
    problems: list[str] = []
    seen: set[str] = set()
    check_module(public_objects(spark_em, spark_em.__all__), problems, seen)
    checked = check_module(public_objects(spark_em.ml, spark_em.ml.__all__), problems, seen)
    assert not problems, report(problems)
    assert checked > 100  # the walk reached the methods, not just the names


def test_the_mlflow_functions_have_numpydoc_docstrings():
    import mlflow  # noqa: F401  (the test extra installs it: a missing MLflow fails the test)

    import spark_em.mlflow as integration

    names = getattr(integration, "__all__", None) or [
        n
        for n, v in vars(integration).items()
        if not n.startswith("_") and inspect.isfunction(v) and v.__module__ == integration.__name__
    ]
    problems: list[str] = []
    check_module(public_objects(integration, names), problems, set())
    assert not problems, report(problems)


def test_the_checks_catch_what_they_should():
    """The checker itself: a missing section, an undocumented parameter, an accessor."""

    def undocumented(a, b=1):
        """Summary.

        Parameters
        ----------
        a : int
            The a.
        """
        return a + b

    def setK(self, value):
        """Sets the value of :py:attr:`k`."""
        return self._set(k=value)

    def generator(n: int):
        """Summary.

        Parameters
        ----------
        n : int
            How many.

        Yields
        ------
        int
            Each number.
        """
        yield from range(n)

    problems: list[str] = []
    check_callable("undocumented", undocumented, problems)
    check_callable("setK", setK, problems)
    check_callable("generator", generator, problems)
    assert problems == [
        "undocumented: Parameters does not document b",
        "undocumented: no Returns section",
    ]

    def setParams(self, *, k=2):
        """Sets params."""
        return self._set(**self._input_kwargs)

    def getKValues(self):
        """The K to fit."""
        return self.getOrDefault(self.kValues) if self.isDefined(self.kValues) else [2]

    assert is_accessor("setK", setK)
    assert not is_accessor("setParams", setParams) and not is_accessor("getKValues", getKValues)


def test_the_class_checks_catch_what_they_should():
    """A class: its Examples, its constructor's keywords, its properties' docstrings."""

    class Estimator:
        """Summary.

        Parameters
        ----------
        k : int, default 2
            Components.
        """

        __module__ = "spark_em.fake"  # checked as spark-em's own

        def __init__(self, *, k=2, tol=1e-6):
            self.k, self.tol = k, tol

        @property
        def weights(self):
            return None

        def setParams(self, *, k=2, tol=1e-6):
            """Sets the params given.

            Returns
            -------
            Estimator
                This estimator.
            """
            return self

    problems: list[str] = []
    check_class(Estimator, problems, set(), set())
    where = qualified(Estimator)
    assert sorted(problems) == [
        f"{where}.weights: no docstring (say what the property holds)",
        f"{where}: no Examples section",
        f"{where}: the constructor's tol not in the class's Parameters (or Attributes)",
    ]
