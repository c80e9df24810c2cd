"""Finding and running the ``qis`` binary: every function of the package is one run of it
with ``--json``, whose exit code becomes an exception (see :mod:`qis.errors`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any, Sequence

from .errors import InputError, NotFound, QisError

#: The environment variable naming the binary to run (e.g. a ``target/release/qis`` under test).
BIN_ENV = "QIS_BIN"
#: Exit status of bad input, and of an operation that ran but did not succeed.
EXIT_INPUT, EXIT_FAILED = 2, 1
#: How long one command may run before it is stopped (a lookup gives up well before).
DEFAULT_TIMEOUT_S = 120.0
#: What the command prints before its error message.
ERROR_PREFIX = "qis: error: "


def _beside_python() -> list[Path]:
    """Where an installed wheel put the binary: the scripts folder of this interpreter's
    installation, then of the user installation (``pip install --user``)."""
    folders = [sysconfig.get_path("scripts")]
    user_scheme = f"{os.name}_user"
    if user_scheme in sysconfig.get_scheme_names():
        folders.append(sysconfig.get_path("scripts", user_scheme))
    folders.append(str(Path(sys.executable).parent))
    name = "qis.exe" if os.name == "nt" else "qis"
    return [Path(f) / name for f in folders if f]


def binary() -> str:
    """The ``qis`` binary to run: ``$QIS_BIN``, else the one the wheel installed beside this
    interpreter, else ``qis`` on ``PATH``.

    Raises:
        QisError: none was found (the message lists where it looked).
    """
    named = os.environ.get(BIN_ENV)
    if named:
        if not os.access(named, os.X_OK):
            raise QisError(f"${BIN_ENV}={named!r} is not an executable file: unset it or point it at a qis binary")
        return named
    for candidate in _beside_python():
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("qis")
    if found:
        return found
    looked = ", ".join(str(p.parent) for p in _beside_python())
    raise QisError(
        f"no qis binary: not in ${BIN_ENV}, {looked} or PATH; reinstall the package "
        f"(pip install qis) or set {BIN_ENV} to a built target/release/qis"
    )


def error_message(stderr: str) -> str:
    """The command's error: what follows ``qis: error:`` (the rest of stderr from there, since
    a few errors list their problems on the lines below), else clap's ``error:`` line, else
    the last line of stderr."""
    lines = stderr.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(ERROR_PREFIX):
            return "\n".join([line[len(ERROR_PREFIX):], *lines[i + 1:]]).strip()
    for line in lines:
        if line.startswith("error: "):
            return line[len("error: "):].strip()
    return lines[-1].strip() if lines else "the qis command failed and printed nothing"


def run(
    args: Sequence[str],
    *,
    home: str | os.PathLike[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> subprocess.CompletedProcess[str]:
    """Runs ``qis ARGS`` and returns what it printed.

    Args:
        args: the arguments after ``qis``.
        home: the data home (``$QIS_HOME``: keys, published packets, saved recommendations),
            or ``None`` for the command's default.
        timeout: seconds before the command is stopped.

    Raises:
        InputError: exit code 2. NotFound: exit code 1. QisError: anything else.
    """
    command = [binary(), *map(str, args)]
    env = dict(os.environ)
    env.pop("RUST_LOG", None)  # the command's own log levels, not the caller's
    if home is not None:
        env["QIS_HOME"] = str(home)
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env, timeout=timeout
        )
    except subprocess.TimeoutExpired as e:
        raise QisError(f"qis {' '.join(command[1:3])} did not finish within {timeout:g} s", command=command) from e
    except OSError as e:
        raise QisError(f"could not run {command[0]}: {e}", command=command) from e
    if done.returncode == 0:
        return done
    kind = {EXIT_INPUT: InputError, EXIT_FAILED: NotFound}.get(done.returncode, QisError)
    raise kind(error_message(done.stderr), exit_code=done.returncode, command=command, stderr=done.stderr)


def run_json(args: Sequence[str], **options: Any) -> Any:
    """Runs ``qis ARGS`` (which must include ``--json``) and decodes the JSON it printed."""
    done = run(args, **options)
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError as e:
        raise QisError(f"qis {args[0]} printed no JSON ({e}): {done.stdout[:200]!r}") from e
