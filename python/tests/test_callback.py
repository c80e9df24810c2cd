"""QisCallback with the real transformers classes: dispatched by the Trainer's own
CallbackHandler at the end of training, on a run directory a Trainer and lm-eval wrote."""

from __future__ import annotations

import logging

import pytest

transformers = pytest.importorskip("transformers")
from transformers import TrainerControl  # noqa: E402
from transformers.trainer_callback import CallbackHandler  # noqa: E402

import qis  # noqa: E402
from qis.integrations.transformers import DRAFT_FILE, QisCallback, training_params  # noqa: E402

TASK = "clinical-qa"


def end_training(callback, args, state):
    """What Trainer.train() does last: on_train_end through its callback handler."""
    handler = CallbackHandler([callback], model=None, processing_class=None, optimizer=None, lr_scheduler=None)
    handler.on_train_end(args, state, TrainerControl())


def test_the_trainer_arguments_become_packet_hyperparameters(trainer_run):
    args, _ = trainer_run
    params = training_params(args)
    assert params["learning_rate"] == 2e-4 and params["epochs"] == 3
    assert params["batch_size"] == 16 and params["scheduler"] == "cosine"


def test_by_default_it_drafts_beside_the_run_and_says_how_to_publish(trainer_run, caplog):
    args, state = trainer_run
    callback = QisCallback(task=TASK, tags=["medicine"], bootstrap=["203.0.113.7:4000"])
    with caplog.at_level(logging.INFO, logger="qis"):
        end_training(callback, args, state)
    assert callback.error is None and callback.published is None
    draft = callback.draft
    assert draft.path.name == DRAFT_FILE and draft.path.parent.samefile(args.output_dir)
    # lora: nothing in this directory says the base was loaded in 4 bits (the fixture's model
    # card, which does, is not copied).
    assert draft["task"] == TASK and draft["method"] == "lora"
    assert draft["learning_rate"] == "2e-4" and draft["batch_size"] == "16"
    assert draft.fields["outcome"].origin.key == "results.medqa_4options.acc,none"
    # The state file the callback wrote is the one TrainerState.save_to_json writes.
    assert (draft.run_dir / "trainer_state.json").is_file()
    command = f"qis publish {draft.path} --bootstrap 203.0.113.7:4000"
    assert command in caplog.text


def test_publish_true_publishes_and_query_finds_it(trainer_run, network):
    args, state = trainer_run
    callback = QisCallback(task=TASK, tags=["medicine", "english"], publish=True, **network.options)
    end_training(callback, args, state)
    assert callback.error is None, callback.error
    assert callback.published is not None
    found = qis.query(family="llama-3-8b", task=TASK, tags=["medicine", "english"], **network.options)
    assert callback.published.packet_id in [p.packet_id for p in found]
    assert found[0].level == "exact"


def test_a_run_without_scores_logs_why_and_does_not_fail_training(tmp_path, caplog):
    from transformers import TrainerState, TrainingArguments

    args = TrainingArguments(output_dir=str(tmp_path / "out"), report_to=[])
    callback = QisCallback(task=TASK)
    with caplog.at_level(logging.WARNING, logger="qis"):
        end_training(callback, args, TrainerState())
    assert isinstance(callback.error, qis.InputError)
    assert callback.draft is None and "no packet drafted" in caplog.text


def test_only_the_main_process_drafts(trainer_run):
    args, state = trainer_run
    state.is_world_process_zero = False
    callback = QisCallback(task=TASK)
    end_training(callback, args, state)
    assert callback.draft is None and callback.error is None


def test_publishing_needs_a_node():
    with pytest.raises(ValueError, match="bootstrap"):
        QisCallback(task=TASK, publish=True)


def test_scores_from_the_trainers_own_evaluations(tmp_path):
    """eval_on_start and a final evaluation: baseline and outcome from the state, the size of
    the evaluation set from the data loader the Trainer hands its callbacks."""
    from transformers import TrainerState, TrainingArguments

    args = TrainingArguments(output_dir=str(tmp_path / "out"), eval_on_start=True, eval_strategy="epoch", report_to=[])
    state = TrainerState(epoch=3.0, global_step=300, max_steps=300, num_train_epochs=3, train_batch_size=8)
    state.log_history = [
        {"epoch": 0, "eval_accuracy": 0.52, "step": 0},
        {"epoch": 3.0, "eval_accuracy": 0.59, "step": 300},
    ]

    class Loader:
        dataset = list(range(1200))

    # The Trainer names neither its evaluation set nor a standard error: those come by argument.
    callback = QisCallback(task=TASK, benchmark="pubmedqa", method="full", family="llama-3-8b", confidence=0.9)
    handler = CallbackHandler([callback], model=None, processing_class=None, optimizer=None, lr_scheduler=None)
    handler.eval_dataloader = Loader()
    handler.on_train_end(args, state, TrainerControl())
    assert callback.error is None, callback.error
    draft = callback.draft
    assert (draft["baseline"], draft["outcome"], draft["eval_samples"]) == ("0.52", "0.59", "1200")
    assert draft.fields["outcome"].origin.key == "log_history[1].eval_accuracy"
