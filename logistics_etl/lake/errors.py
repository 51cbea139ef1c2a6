"""The lake's one error type: every lake failure is raised as it, with a message that names the table."""


class LakeError(RuntimeError):
    """The lake is unreadable or a batch cannot be committed; the message names the table."""
