"""The one exception type that reaches users as a single clear line."""


class UserError(Exception):
    """Bad input or missing/corrupt data: the CLI prints ``error: <message>`` and exits non-zero."""

    exit_code = 2


class MissingLibrary(UserError):
    """An optional library an optimizer wraps is not installed (the message gives the install line)."""
