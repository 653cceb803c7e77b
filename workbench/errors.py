"""The one exception type that carries a message meant for the user."""


class WorkbenchError(Exception):
    """Bad input from the user: a recipe key, a data file line, a CLI argument.

    The message is one sentence that names what and where; the CLI prints it
    without a traceback and exits with status 2.
    """


def where(path, line: int | None = None) -> str:
    """Format a location as ``path`` or ``path:line`` for error messages."""
    return f"{path}:{line}" if line is not None else str(path)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type when it has none): a
    library's error, quoted in one of ours."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
