"""What an error about an unknown name adds: the closest known names."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UnknownNameError(ValueError, KeyError):
    """A name that is not registered: a ``ValueError`` (a bad argument) and, for code that
    looks names up in a mapping, a ``KeyError``; its ``str`` is the message, without the
    quotes a ``KeyError`` adds."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``"; did you mean 'a' or 'b'?"`` for the known names closest to ``name``, else ``""``."""
    close = difflib.get_close_matches(str(name), list(known), n=3)
    if not close:
        return ""
    quoted = [repr(option) for option in close]
    listed = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
    return f"; did you mean {listed}?"
