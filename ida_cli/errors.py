"""One error hierarchy. The core raises these; only the CLI catches them and prints one line."""

from __future__ import annotations

EXIT_USAGE = 2
EXIT_FAILURE = 1


class IdaError(Exception):
    """Base of every error ida reports to a user. The message names what to do next."""

    exit_code = EXIT_FAILURE


class UsageError(IdaError):
    """Bad input or usage: exit 2, nothing changed."""

    exit_code = EXIT_USAGE


class UnknownTask(UsageError):
    pass


class ParseError(UsageError):
    """A typed answer, question or imported row that does not fit its task's form."""


class ImportFileError(UsageError):
    def __init__(self, path: str, line: int, field: str, problem: str) -> None:
        self.path, self.line, self.field, self.problem = path, line, field, problem
        super().__init__(f"{path}:{line}: field '{field}': {problem}; nothing was imported")


class StoreError(IdaError):
    """The database cannot be used as asked."""

    exit_code = EXIT_USAGE


class DatabaseBusy(StoreError):
    pass


class NotADatabase(StoreError):
    pass


class SchemaTooNew(StoreError):
    pass


class NoDatabase(StoreError):
    pass


class NotFound(UsageError):
    pass


class OutputError(UsageError):
    """An output path that cannot be written."""


class Interrupted(IdaError):
    """Ctrl-C: what was finished is kept."""

    exit_code = 130


class BadConnection(StoreError):
    """A database URL that the server refuses: wrong password, user, database or host name."""


class DatabaseUnreachable(IdaError):
    """The database server cannot be reached (down, restarting, network): try again later."""


class CannotWrite(IdaError):
    """A file ida must write (a checkpoint) cannot be: the disk or the folder's permissions, not
    the command's arguments (exit 1)."""
