"""The one user-facing error type.

Anything a user can cause by bad input (a wrong file, a wrong shape, a missing model) raises
:class:`HandposeError` with one clear sentence. The CLI prints that sentence and exits non-zero;
everything else is a bug and keeps its traceback.
"""


class HandposeError(Exception):
    """Bad input or a missing resource, with a message meant for the user."""
