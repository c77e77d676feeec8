"""Errors a user can cause: bad files, bad options, impossible requests."""


class InputError(ValueError):
    """A problem with the user's input or options; the message says what and where.

    When the problem is one parameter's value, ``param`` names it and the message writes it as
    ``{param}``: the library's message speaks of the parameter (``k 30 is larger than ...``),
    and a front end can speak of its own name for it instead (``--k 30 ...``) through
    ``worded``. Front ends print the message alone (no stack trace) and exit with status 2.
    """

    def __init__(self, message: str, param: str | None = None):
        self.template, self.param = message, param
        super().__init__(self.worded({}))

    def worded(self, names: dict[str, str]) -> str:
        """The message with the parameter called by ``names`` (or by its own name)."""
        if self.param is None:
            return self.template
        return self.template.replace("{param}", names.get(self.param, self.param))
