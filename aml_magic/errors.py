"""One error hierarchy. Front ends print an ``AmlError`` as one line (``str(err)``); anything
else is an internal error and keeps its traceback."""
from __future__ import annotations


class AmlError(Exception):
    """An expected failure: bad input, missing file, unreachable target. The message names the
    file, target or run and says what to do next."""


class HelpShown(AmlError):
    """``-h`` was given to a command or magic: the help text was printed and there is nothing
    else to do."""


class ConfigError(AmlError):
    """A file under ``aml_config/`` cannot be loaded or is invalid."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 column: int | None = None) -> None:
        self.path, self.line, self.column = path, line, column
        where = path or ""
        if path and line is not None:
            where += f":{line}"
            if column is not None:
                where += f":{column}"
        # a message that already starts with the path names it once, not twice
        prefixed = where and not (path and message.startswith(path))
        super().__init__(f"{where}: {message}" if prefixed else message)


class ProjectNotFound(AmlError):
    """No ``aml_config/`` folder at or above the working directory."""


class SecretError(AmlError):
    """A secret reference cannot be resolved or stored."""


class TargetError(AmlError):
    """A compute target cannot be reached or cannot run the request."""


class UnsafeRunFile(TargetError):
    """A file in a run folder is a symlink, special file or folder where the host expected a
    regular file (the run put it there); it is refused, never followed."""


class HostKeyError(TargetError):
    """An SSH host key is unknown or does not match the pinned fingerprint."""


class RunNotFound(AmlError):
    """No run with that id in the run history."""


class EnvironmentNotPrepared(AmlError):
    """The run's environment does not exist and ``PrepareEnvironment`` is false."""


class HistoryDamaged(AmlError):
    """``history.db`` is corrupt, truncated or not a run history; ``aml history repair``
    rebuilds it from the run folders."""

    def __init__(self, path: str, why: str) -> None:
        self.path = path
        super().__init__(f"{path}: the run history is damaged ({why}); run `aml history repair` "
                         "to rebuild it from the run folders (the damaged file is kept aside)")


class DiskFull(AmlError):
    """No space left on a device the run, its history or its folder needs."""


class ApiError(AmlError):
    """A request the service refuses with a given HTTP status (bad parameter, conflict).
    EXTRA: keys of ``ErrorJson`` its answer carries besides the message (``host_key``,
    ``missing``), for a client to act on."""

    def __init__(self, status: int, message: str,
                 extra: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.extra = dict(extra or {})


class RunOrphaned(TargetError):
    """A run's target is no longer in ``aml_config/`` (or is now another type): nothing is
    read from or sent to any machine for it; re-attach the target to follow it again."""
