"""LocalNetwork starts real nodes and leaves none behind: not on exit, not when the block
raises, not when the interpreter exits, raises or is killed without closing it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

import qis
from qis.testing import LocalNetwork, STOP_TIMEOUT_S


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_gone(pids: list[int], within: float) -> list[int]:
    """The pids still alive after waiting up to ``within`` seconds for them to exit."""
    deadline = time.monotonic() + within
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


def test_nodes_answer_and_all_stop_on_exit(network):
    assert len(network.bootstrap) == 3 and network.running() == 3
    assert all(a.startswith("127.0.0.1:") for a in network.bootstrap)
    assert len(set(network.bootstrap)) == 3
    # A client of the network reaches each node (it is a test network: raw values allowed).
    done = subprocess.run(
        [qis.binary(), "ping", network.bootstrap[2], "--network", network.network, "--id-difficulty", "0", "--json"],
        capture_output=True, text=True, env=dict(os.environ, QIS_HOME=str(network.home)),
    )
    assert done.returncode == 0, done.stderr


def test_nodes_stop_when_the_block_raises():
    with pytest.raises(RuntimeError, match="inside"):
        with LocalNetwork(nodes=2) as net:
            pids = net.pids()
            home = net.home
            assert all(alive(p) for p in pids)
            raise RuntimeError("inside the block")
    assert wait_gone(pids, 0) == []
    assert not home.exists()


CHILD = """
import sys
from qis.testing import LocalNetwork
net = LocalNetwork(nodes=2).start()
print(" ".join(map(str, net.pids())), flush=True)
if sys.argv[1] == "raise":
    raise SystemExit("the child fails without closing its network")
if sys.argv[1] == "hang":
    import time; time.sleep(600)
"""


@pytest.mark.parametrize("how", ["exit", "raise", "hang"])
def test_nothing_outlives_an_interpreter_that_never_closed_its_network(how):
    child = subprocess.Popen([sys.executable, "-c", CHILD, how], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    pids = [int(p) for p in child.stdout.readline().split()]
    assert len(pids) == 2
    if how == "hang":
        # Killed outright: no atexit, no finalizer; the kernel's parent-death signal remains.
        assert all(alive(p) for p in pids)
        child.send_signal(signal.SIGKILL)
    child.wait(30)
    assert child.returncode != 0 if how != "exit" else child.returncode == 0
    assert wait_gone(pids, STOP_TIMEOUT_S + 5) == []


def test_a_node_that_cannot_start_is_an_error_not_a_hang(monkeypatch, tmp_path):
    fake = tmp_path / "qis"
    fake.write_text("#!/bin/sh\necho 'qis: error: --listen: address in use' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("QIS_BIN", str(fake))
    with pytest.raises(qis.QisError, match="exited"):
        LocalNetwork(nodes=1).start()


def test_at_least_one_node():
    with pytest.raises(ValueError, match="at least 1"):
        LocalNetwork(nodes=0)
