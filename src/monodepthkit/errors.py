"""User-facing errors.

`MdkError` is raised for problems a user can fix (a missing folder, a bad file, a wrong key).
The `mdk` command prints its message on one line and exits non-zero, without a traceback unless
`--debug` is given. Messages name the file or key, what was expected, what was found and how to
fix it.
"""

from __future__ import annotations


class MdkError(Exception):
    """An error caused by user input, reported as one line by the `mdk` command."""
