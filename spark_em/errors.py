"""Errors a user can cause: bad files, bad options, impossible requests."""


class InputError(ValueError):
    """A problem with the user's input or options; the message says what and where.

    Front ends print the message alone (no stack trace) and exit with status 2.
    """
