"""User-facing errors.

`MdkError` is raised for problems a user can fix (a missing folder, a bad file, a wrong key);
its subclass `InputError` is the one error of the pure layer (geometry, losses, models), raised
for a tensor of the wrong shape (through `check_shape`), a value out of range, an unknown name
(model, head, loss, backbone) or a weights file that does not fit.
The `mdk` command prints its message on one line and exits non-zero, without a traceback unless
`--debug` is given. Messages name the file or key, what was expected, what was found and how to
fix it.
"""

from __future__ import annotations


class MdkError(Exception):
    """An error caused by user input, reported as one line by the `mdk` command."""


class InputError(MdkError, ValueError):
    """A bad argument to the pure layer (geometry, losses, models): a shape, range, name or file.

    It is an `MdkError` (the `mdk` command reports it on one line) and a `ValueError` (what
    Python code calling a function with a bad argument expects).
    """


def check_shape(value, shape: str, name: str) -> None:
    """Raise `InputError` unless ``value`` has ``shape``.

    Args:
        value: a tensor or array (anything with ``.shape``).
        shape: space-separated dimensions: an integer must match exactly, a name (``B``,
            ``H``, ...) matches any size, and a leading ``...`` any number of dimensions,
            e.g. ``"B 1 H W"`` or ``"... 3 3"``.
        name: what the value is, for the message (e.g. ``"backproject_depth: depth"``).

    Raises:
        InputError: naming ``name``, the expected and the actual shape.
    """
    dims = shape.split()
    actual = tuple(value.shape)
    leading = bool(dims) and dims[0] == "..."
    if leading:
        dims = dims[1:]
    matches = len(actual) >= len(dims) if leading else len(actual) == len(dims)
    if matches and dims:
        tail = actual[len(actual) - len(dims) :]
        matches = all(not d.isdigit() or int(d) == size for d, size in zip(dims, tail, strict=True))
    if not matches:
        expected = ", ".join((["..."] if leading else []) + dims)
        raise InputError(f"{name} must have shape [{expected}], got {actual}")
