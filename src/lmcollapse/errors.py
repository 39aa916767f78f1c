"""The one exception type users see: a one-line message that says what is wrong and how to fix it."""


class LmcollapseError(ValueError):
    """A problem with the user's input (config, corpus, run directory), not a bug in lmcollapse."""


class RunInterrupted(Exception):
    """Ctrl-C (SIGINT) stopped a run: the message says where, and how to resume. The CLI exits 130."""


class RunDirBusy(LmcollapseError):
    """Another process holds the run directory's lock (a sweep's retried run waits for it a while)."""
