"""How errors read on one line (the CLI, the status bar, the headless line)."""
from __future__ import annotations


def one_line(e: BaseException) -> str:
    """The first line of an exception's message (a KeyError's key as it is; the
    type's name for an empty message)."""
    if isinstance(e, KeyError) and e.args:
        return str(e.args[0])
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0]
