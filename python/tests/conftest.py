"""Shared fixtures: the repository's run fixtures, a run directory written the way a Trainer
and lm-evaluation-harness write one, and one LocalNetwork for the tests that need nodes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from qis.testing import LocalNetwork

#: The repository's fixtures of real run folders (tests/fixtures/runs).
RUNS = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "runs"
#: The lm-eval results of the medqa fixture: the base model's and the adapter's.
MEDQA_EVAL = RUNS / "qlora-llama3-medqa" / "lm_eval"


@pytest.fixture(scope="session")
def network():
    """Three nodes on loopback, shared by every test of the session (starting them is the
    slow part)."""
    with LocalNetwork(nodes=3) as net:
        yield net


@pytest.fixture
def runs() -> Path:
    return RUNS


def write_lm_eval(run_dir: Path, adapter: Path) -> None:
    """lm-evaluation-harness results for the base model and for ``adapter``, as lm-eval
    writes them (``<output>/<model>/results_<time>.json``), from the medqa fixture's."""
    for source in MEDQA_EVAL.glob("*/results_*.json"):
        data = json.loads(source.read_text())
        model_args = data["config"]["model_args"]
        if "peft=" in model_args:
            data["config"]["model_args"] = model_args.replace("peft=./out", f"peft={adapter}")
        target = run_dir / "lm_eval" / source.parent.name / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(data, indent=2))


@pytest.fixture
def trainer_run(tmp_path: Path):
    """A run directory as a Trainer leaves it at the end of training (``TrainerState``
    written with ``save_to_json``, the adapter's config beside it) plus lm-eval results of
    the base and the fine-tuned model; returns (TrainingArguments, TrainerState)."""
    from transformers import TrainerState, TrainingArguments

    out = tmp_path / "out"
    out.mkdir()
    shutil.copy(RUNS / "qlora-llama3-medqa" / "out" / "adapter_config.json", out)
    args = TrainingArguments(
        output_dir=str(out), learning_rate=2e-4, num_train_epochs=3, per_device_train_batch_size=4,
        gradient_accumulation_steps=4, lr_scheduler_type="cosine", weight_decay=0.01, report_to=[],
    )
    state = TrainerState(epoch=3.0, global_step=750, max_steps=750, num_train_epochs=3, train_batch_size=4)
    state.log_history = [
        {"epoch": 1.0, "loss": 1.08, "learning_rate": 1.9e-4, "step": 250},
        {"epoch": 3.0, "eval_loss": 0.81, "step": 750},
        {"epoch": 3.0, "train_loss": 0.91, "train_runtime": 5230.7, "step": 750},
    ]
    write_lm_eval(out, out)
    return args, state
