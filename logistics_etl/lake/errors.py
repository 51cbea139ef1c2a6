"""The lake's one error type: every lake failure is raised as it, with a message that names the table."""


class LakeError(RuntimeError):
    """The lake is unreadable or a batch cannot be committed; the message names the table."""


def first_line(exc: Exception) -> str:
    """An exception's message as one line for a LakeError (delta-rs's can run to pages)."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:500]
