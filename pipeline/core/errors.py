"""The one exception type for errors a user can cause (bad file, bad date, unreachable server...).

The CLI prints its message on one line and exits non-zero; everything else is a bug and keeps its
traceback.
"""


class AccidentsError(Exception):
    """A user-facing error whose message says what went wrong and where."""
