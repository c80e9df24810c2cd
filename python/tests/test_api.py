"""Draft, publish, query and recommend through a LocalNetwork, with typed results, and the
recommendation's fragments loaded by the libraries they configure."""

from __future__ import annotations

import dataclasses

import pytest

import qis

TASK = "medical-qa"


@pytest.fixture(scope="module")
def published(network, tmp_path_factory):
    """The medqa fixture run, drafted and published once for this module."""
    out = tmp_path_factory.mktemp("draft") / "medqa.toml"
    draft = qis.from_run(qis_runs() / "qlora-llama3-medqa", task=TASK, tags=["medicine", "english"], out=out)
    return draft, qis.publish(draft, **network.options)


def qis_runs():
    from conftest import RUNS

    return RUNS


def test_a_draft_has_every_field_with_its_origin(published):
    draft, _ = published
    assert draft.path is not None and draft.path.read_text().startswith("#")
    assert draft["lora_rank"] == "16"
    assert draft["task"] == TASK
    rank = draft.fields["lora_rank"].origin
    assert (rank.kind, rank.file, rank.key) == ("file", "out/adapter_config.json", "r")
    assert draft.fields["task"].origin.kind == "override"
    outcome = draft.fields["outcome"].origin
    assert outcome.file.startswith("lm_eval/__out/") and outcome.key == "results.medqa_4options.acc,none"
    assert "lora_rank = 16  (from out/adapter_config.json:r)" in draft.render()
    assert len(draft.fields) >= 15


def test_publish_stores_under_every_key_and_again_refreshes(published, network):
    draft, first = published
    assert len(first.packet_id) == 64 and 200 < first.encoded_size <= 512
    levels = [k.level for k in first.keys]
    assert levels[:2] == ["exact", "family-task"] and levels[-1] == "task"
    assert "task-tag" in levels and len(levels) == len(set(k.id for k in first.keys))
    assert all(k.acks >= 1 and k.verified >= 1 for k in first.keys)
    assert first.saved.is_file() and not first.already_published
    again = qis.publish(draft.path, **network.options)
    assert again.already_published and again.packet_id == first.packet_id


def test_query_finds_the_packet_as_typed_fields(published, network):
    _, first = published
    found = qis.query(family="llama-3-8b", task=TASK, tags=["english"], **network.options)
    assert [p.packet_id for p in found] == [first.packet_id]
    packet = found[0]
    assert isinstance(packet, qis.Packet)
    assert (packet.level, packet.similarity) == ("family-task", 0.7)
    assert packet.method == "qlora" and packet.benchmark == "medqa_4options"
    assert packet.hyperparams["lora_rank"] == "16"
    assert packet.gain == pytest.approx(0.5931 - 0.5161)


def test_recommend_and_every_fragment(published, network):
    rec = qis.recommend(family="llama-3-8b", task=TASK, tags=["english"], **network.options)
    assert rec.method == "qlora" and rec.evidence_count == 1 and rec.found == 1
    assert rec.hyperparameters["lora_rank"]["value"] == 16
    assert rec.recommendation_id and (network.home / "recommendations" / f"{rec.recommendation_id}.json").is_file()
    assert set(rec.fragments) == {"peft", "axolotl", "trl", "optuna"}

    kwargs = rec.peft_kwargs()
    assert kwargs["r"] == 16 and kwargs["lora_alpha"] == 32 and kwargs["task_type"] == "CAUSAL_LM"

    from transformers import TrainingArguments

    assert rec.trl_config_class() == "SFTConfig"
    trl = rec.training_args()
    assert trl["learning_rate"] == pytest.approx(2e-4)
    accepted = rec.training_args(TrainingArguments)
    assert set(accepted) <= {f.name for f in dataclasses.fields(TrainingArguments)}
    built = TrainingArguments(output_dir="unused", report_to=[], **accepted)
    assert built.learning_rate == pytest.approx(2e-4)

    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load(rec.axolotl_yaml())
    assert config["lora_r"] == 16 and config["adapter"] == "qlora"

    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = rec.optuna_space()
    study = space.create_study()
    study.optimize(lambda trial: float(len(space.suggest(trial))), n_trials=3)
    assert len(study.trials) == 3
    assert study.trials[0].params == space.recommended
    assert "lora_rank" in space.recommended


def test_recommend_without_saving(published, network):
    rec = qis.recommend(task=TASK, save=False, **network.options)
    assert rec.recommendation_id is None and rec.method == "qlora"


def test_reproduce_someone_elses_packet_returns_a_typed_report(published, network, tmp_path):
    _, first = published
    # Another user (another home, so another publisher key) re-runs the packet.
    other = {**network.options, "home": tmp_path}
    report = qis.reproduce(
        first.packet_id[:12], baseline=0.5161, outcome=0.5902, eval_samples=1273,
        task=TASK, family="llama-3-8b", tags=["medicine", "english"], **other,
    )
    assert isinstance(report, qis.Reproduced)
    assert report.of == first.packet_id and len(report.reproduction_id) == 64
    assert report.agrees and report.your_gain == pytest.approx(0.5902 - 0.5161, abs=1e-6)
    assert 0 < report.encoded_size <= 512 and report.saved.is_file()
    assert "task" not in [k.level for k in report.keys], "not under the task-alone key"
    assert all(k.acks >= 1 for k in report.keys)
    found = qis.query(family="llama-3-8b", task=TASK, tags=["english"], **network.options)
    assert found[0].reproductions == 1, found[0]
