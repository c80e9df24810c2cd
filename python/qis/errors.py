"""The exceptions the ``qis`` command's exit codes become.

The command exits 2 for bad input (a flag, a value, a file) and 1 when the operation ran but
did not succeed (nothing matched, nobody answered); its error is printed on stderr as
``qis: error: MESSAGE``. Each exception carries that message, so ``str(error)`` reads as the
command's own error.
"""

from __future__ import annotations


class QisError(Exception):
    """Any failure of a ``qis`` command: the binary missing, a crash, a timeout, or one of the
    subclasses below.

    Attributes:
        message: the command's error message (what follows ``qis: error:``).
        exit_code: the command's exit status, or ``None`` when it never ran to an exit.
        command: the arguments it ran with (binary first).
        stderr: everything it printed on stderr.
    """

    def __init__(
        self,
        message: str,
        *,
        exit_code: int | None = None,
        command: list[str] | None = None,
        stderr: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.command = command or []
        self.stderr = stderr


class InputError(QisError):
    """Bad input (exit code 2): a flag, a value or a file the command refused; the message
    names it and says what to do."""


class NotFound(QisError):
    """The operation ran but did not succeed (exit code 1): no packet matched, no usable
    evidence, or no node answered or stored."""
