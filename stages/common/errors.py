"""The one exception a stage raises for bad input: the CLI prints it as one line."""


class StageError(Exception):
    """A problem the user can fix (a params value, a missing input, bad credentials)."""
