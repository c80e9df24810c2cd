"""Every way a qis call fails becomes an exception: InputError for bad input (exit 2),
NotFound when nothing matched or answered (exit 1), QisError for everything else, each with
the command's own message."""

from __future__ import annotations

import pytest

import qis
from qis import _cli

from conftest import RUNS

#: Nobody listens here (port 9 is discard; over UDP on loopback, nothing answers).
SILENT = "127.0.0.1:9"


def test_a_run_directory_that_does_not_exist(tmp_path):
    with pytest.raises(qis.InputError) as caught:
        qis.from_run(tmp_path / "nope", task="qa")
    assert caught.value.exit_code == 2
    assert str(tmp_path / "nope") in str(caught.value)
    assert "qis: error:" not in str(caught.value)


def test_a_broken_run_lists_its_problems():
    with pytest.raises(qis.InputError) as caught:
        qis.from_run(RUNS / "broken-run", task="qa")
    assert "adapter_config.json" in caught.value.message
    assert "no packet" in caught.value.message


def test_a_run_without_the_task_says_which_flag():
    with pytest.raises(qis.InputError, match="--task"):
        qis.from_run(RUNS / "qlora-llama3-medqa")


def test_a_draft_file_is_not_overwritten(tmp_path):
    out = tmp_path / "p.toml"
    qis.from_run(RUNS / "qlora-llama3-medqa", task="qa", out=out)
    with pytest.raises(qis.InputError, match="--force"):
        qis.from_run(RUNS / "qlora-llama3-medqa", task="qa", out=out)
    assert qis.from_run(RUNS / "qlora-llama3-medqa", task="qa", out=out, force=True).path == out


def test_unknown_run_flags_and_string_tags_are_refused_in_python():
    with pytest.raises(TypeError, match="learning_rate"):
        qis.from_run(RUNS / "qlora-llama3-medqa", task="qa", learning_rate=1e-4)
    with pytest.raises(TypeError, match=r"tags=\['medicine'\]"):
        qis.from_run(RUNS / "qlora-llama3-medqa", task="qa", tags="medicine")


def test_a_draft_never_written_cannot_be_published():
    draft = qis.from_run(RUNS / "qlora-llama3-medqa", task="qa")
    with pytest.raises(qis.InputError, match="out=PATH"):
        qis.publish(draft, bootstrap=[SILENT])


def test_a_malformed_query_is_bad_input_before_any_network():
    with pytest.raises(qis.InputError, match="tag"):
        qis.query(task="qa", tags=["x" * 40], bootstrap=[SILENT])
    with pytest.raises(qis.InputError, match="--trust"):
        qis.recommend(task="qa", trust=["not-an-id"], bootstrap=[SILENT])
    with pytest.raises(qis.InputError, match="bootstrap"):
        qis.query(task="qa", bootstrap=[])


def test_a_flag_the_command_does_not_know_is_bad_input():
    with pytest.raises(qis.InputError, match="--no-such-flag"):
        _cli.run(["query", "--no-such-flag"])


def test_nothing_published_for_a_context_is_not_found(network):
    with pytest.raises(qis.NotFound, match="no packets for this context") as caught:
        qis.query(task="no-such-task", **network.options)
    assert caught.value.exit_code == 1
    with pytest.raises(qis.NotFound, match="no usable evidence"):
        qis.recommend(task="no-such-task", **network.options)


def test_no_node_answering_is_not_found(tmp_path):
    with pytest.raises(qis.NotFound):
        qis.query(task="qa", bootstrap=[SILENT], network="pytest-silent", id_difficulty=0, home=tmp_path, timeout=1)


def test_a_fragment_with_nothing_to_paste_is_not_found():
    rec = qis.Recommendation(
        method="full", expected_gain=0.1, gain_range=(0.0, 0.2), evidence_count=1, publishers=1,
        hyperparameters={}, found=1, context={}, recommendation_id=None,
        fragments={"peft": {"error": "--format peft: the recommended method full trains no LoRA adapter"}},
    )
    with pytest.raises(qis.NotFound, match="no LoRA adapter"):
        rec.peft_kwargs()


def fake_binary(tmp_path, body: str):
    path = tmp_path / "qis"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return str(path)


def test_a_crash_or_another_exit_code_is_a_qis_error(tmp_path, monkeypatch):
    monkeypatch.setenv("QIS_BIN", fake_binary(tmp_path, "echo 'thread main panicked' >&2; exit 101"))
    with pytest.raises(qis.QisError) as caught:
        qis.from_run(tmp_path, task="qa")
    assert type(caught.value) is qis.QisError and caught.value.exit_code == 101
    assert "panicked" in caught.value.message


def test_a_command_that_hangs_is_stopped(tmp_path, monkeypatch):
    monkeypatch.setenv("QIS_BIN", fake_binary(tmp_path, "exec sleep 30"))
    with pytest.raises(qis.QisError, match="did not finish within 0.5 s"):
        _cli.run(["query"], timeout=0.5)


def test_output_that_is_not_json_is_a_qis_error(tmp_path, monkeypatch):
    monkeypatch.setenv("QIS_BIN", fake_binary(tmp_path, "echo hello"))
    with pytest.raises(qis.QisError, match="printed no JSON"):
        qis.from_run(tmp_path, task="qa")


def test_a_missing_binary_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("QIS_BIN", str(tmp_path / "missing"))
    with pytest.raises(qis.QisError, match="QIS_BIN"):
        qis.binary()
    monkeypatch.delenv("QIS_BIN")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(_cli, "_beside_python", lambda: [tmp_path / "qis"])
    with pytest.raises(qis.QisError, match="no qis binary"):
        qis.binary()
