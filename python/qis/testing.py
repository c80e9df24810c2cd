"""``LocalNetwork``: a few real ``qis node`` processes on loopback, for tests and trying qis
without touching the public network.

Every node runs the test network's rules (raw values allowed, id work of difficulty 0) under
a temporary data home, on a free port the operating system picks. Nothing outlives the
network: leaving the ``with`` block stops every node (also when the block raises), so does
the interpreter's exit (``atexit``), and on Linux each node is also told by the kernel to stop
when the interpreter dies without running any Python (``SIGKILL``, a crash).
"""

from __future__ import annotations

import atexit
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import weakref
from pathlib import Path
from typing import Any

from . import _cli
from .errors import QisError

#: How long a node may take to start (bind, make its key) and to join through the first one.
START_TIMEOUT_S = 30.0
#: How long a node has to shut down cleanly after SIGTERM before it is killed.
STOP_TIMEOUT_S = 5.0
#: Id work on a test network: none, so a node's key costs nothing.
TEST_ID_DIFFICULTY = 0
#: How many lines of each node's log are kept for error messages.
KEPT_LOG_LINES = 200

# Every node process started and not yet reaped, stopped at interpreter exit whatever else
# happened (a network never closed, a test that raised).
_LIVE: set[subprocess.Popen[str]] = set()
_LIVE_LOCK = threading.Lock()


def _stop(process: subprocess.Popen[str]) -> None:
    """SIGTERM to the node's process group, then SIGKILL if it has not exited in time."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()
    with _LIVE_LOCK:
        _LIVE.discard(process)


@atexit.register
def _stop_all() -> None:
    with _LIVE_LOCK:
        left = list(_LIVE)
    for process in left:
        _stop(process)


def _die_with_parent() -> None:
    """Runs in the child before exec: on Linux, ask the kernel for SIGTERM when the parent
    dies, so even an interpreter killed outright leaves no node behind."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class _Node:
    """One ``qis node`` child: its process, and its log lines as a thread reads them."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.log: list[str] = []
        self.addr: str | None = None
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,  # its own process group: killpg reaches all of it
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        with _LIVE_LOCK:
            _LIVE.add(self.process)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        # Reading to the end keeps the node from ever blocking on a full pipe.
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, what: str, deadline: float) -> str:
        """The first log line containing ``what``, waiting until ``deadline`` at most."""
        while True:
            left = deadline - time.monotonic()
            try:
                line = self.lines.get(timeout=max(left, 0.0)) if left > 0 else self.lines.get_nowait()
            except queue.Empty:
                raise QisError(f"a qis node did not log {what!r} within {START_TIMEOUT_S:g} s:\n" + self._tail()) from None
            if line is None:
                raise QisError(f"a qis node exited ({self.process.wait()}) before logging {what!r}:\n" + self._tail())
            self.log = [*self.log[-KEPT_LOG_LINES:], line]
            if what in line:
                return line

    def _tail(self) -> str:
        return "\n".join(self.log[-20:])


def _addr_of(line: str) -> str:
    for word in line.split():
        if word.startswith("addr="):
            return word[len("addr="):]
    raise QisError(f"no addr= in the node's start line: {line}")


class LocalNetwork:
    """A context manager running ``nodes`` ``qis node`` processes on loopback.

    Attributes:
        bootstrap: each node's address, ``"127.0.0.1:PORT"``.
        network: the test network's name (unique per instance).
        id_difficulty: the id work every node and client of it uses (0).
        home: the temporary data home the nodes and :attr:`options`' clients keep keys in.
        options: the keyword arguments that point a qis call at this network
            (``qis.query(..., **net.options)``, ``QisCallback(..., **net.options)``).

    Example::

        with LocalNetwork(nodes=3) as net:
            qis.publish(draft, **net.options)
            found = qis.query(task="medical-qa", **net.options)
    """

    def __init__(self, nodes: int = 3, *, network: str | None = None, home: str | os.PathLike[str] | None = None) -> None:
        if nodes < 1:
            raise ValueError(f"nodes={nodes}: a network needs at least 1 node")
        self.nodes = nodes
        self.network = network or f"pytest-{uuid.uuid4().hex[:12]}"
        self.id_difficulty = TEST_ID_DIFFICULTY
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        self._home = Path(home) if home is not None else None
        self._nodes: list[_Node] = []
        self.bootstrap: list[str] = []

    @property
    def home(self) -> Path:
        """The data home (a temporary directory unless one was given)."""
        if self._home is None:
            raise QisError("the LocalNetwork is not started: use it in a with block")
        return self._home

    @property
    def options(self) -> dict[str, Any]:
        """``bootstrap``, ``network``, ``id_difficulty`` and ``home`` for qis calls."""
        return {"bootstrap": list(self.bootstrap), "network": self.network, "id_difficulty": self.id_difficulty, "home": self.home}

    def _start(self, index: int, bootstrap: str | None) -> _Node:
        command = [
            _cli.binary(), "node", "--listen", "127.0.0.1:0", "--network", self.network,
            "--id-difficulty", str(self.id_difficulty), "--status-every", "0",
            "--data-dir", str(self.home / f"node-{index}"),
        ]
        if bootstrap:
            command += ["--bootstrap", bootstrap]
        env = dict(os.environ, QIS_HOME=str(self.home), RUST_LOG="info")
        return _Node(command, env)

    def start(self) -> LocalNetwork:
        """Starts the nodes: the first, then the others through it, all at once; returns when
        each has joined (at most :data:`START_TIMEOUT_S` each)."""
        if self._home is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="qis-localnet-")
            self._home = Path(self._tempdir.name)
        # Also stopped when the network is dropped unclosed (the list is the one nodes join).
        self._finalizer = weakref.finalize(self, LocalNetwork._stop_nodes, self._nodes)
        try:
            first = self._start(0, None)
            self._nodes.append(first)
            first.addr = _addr_of(first.wait_for("node started", time.monotonic() + START_TIMEOUT_S))
            others = [self._start(i, first.addr) for i in range(1, self.nodes)]
            self._nodes.extend(others)
            deadline = time.monotonic() + START_TIMEOUT_S
            for node in others:
                node.addr = _addr_of(node.wait_for("node started", deadline))
            for node in others:
                node.wait_for("joined the network", deadline)
        except BaseException:
            self.close()
            raise
        self.bootstrap = [n.addr for n in self._nodes if n.addr]
        return self

    @staticmethod
    def _stop_nodes(nodes: list[_Node]) -> None:
        for node in nodes:
            if node.process.poll() is None:
                node.process.send_signal(signal.SIGTERM)
        for node in nodes:
            _stop(node.process)

    def close(self) -> None:
        """Stops every node (SIGTERM, then SIGKILL after :data:`STOP_TIMEOUT_S`) and removes
        the temporary data home. Safe to call twice."""
        LocalNetwork._stop_nodes(self._nodes)
        self._nodes.clear()
        self.bootstrap = []
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None
            self._home = None

    def running(self) -> int:
        """How many of the nodes are still running."""
        return sum(1 for n in self._nodes if n.process.poll() is None)

    def pids(self) -> list[int]:
        """The nodes' process ids."""
        return [n.process.pid for n in self._nodes]

    def __enter__(self) -> LocalNetwork:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
