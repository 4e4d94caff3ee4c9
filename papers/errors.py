"""The one exception type the CLI turns into a readable one-line error."""


class PapersError(Exception):
    """A problem with the user's input or environment, explained in one line."""
