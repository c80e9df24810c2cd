"""``QisCallback``: the Hugging Face ``Trainer`` callback that drafts an outcome packet at the
end of training and, only if asked, publishes it.

It works with every trainer that takes ``TrainerCallback`` objects: ``transformers.Trainer``,
TRL's ``SFTTrainer``/``DPOTrainer``/..., and what builds on them (axolotl, Unsloth).
"""

from __future__ import annotations

import logging
import shlex
from pathlib import Path
from typing import Any, Iterable, Sequence

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from .. import api
from ..errors import QisError
from ..results import Draft, Published

logger = logging.getLogger("qis")

#: Where the draft is written, in the run's output directory.
DRAFT_FILE = "qis-packet.toml"
#: The Trainer's own name for the state file (``Trainer.save_state`` writes it there too).
STATE_FILE = "trainer_state.json"


def training_params(args: TrainingArguments) -> dict[str, Any]:
    """The hyperparameters the Trainer ran with, by qis's names: what the run's files may not
    state (``TrainingArguments`` is saved only as a pickle, which qis never opens)."""
    try:
        world = max(int(args.world_size), 1)
    except ImportError:  # without torch there is no distributed run: one process
        world = 1
    params: dict[str, Any] = {
        "learning_rate": args.learning_rate,
        "epochs": args.num_train_epochs,
        "batch_size": args.per_device_train_batch_size * args.gradient_accumulation_steps * world,
        "weight_decay": args.weight_decay,
        "scheduler": getattr(args.lr_scheduler_type, "value", args.lr_scheduler_type),
        "optimizer": getattr(args.optim, "value", args.optim),
    }
    # transformers 5 folds warmup_ratio into warmup_steps (a value below 1 is a ratio).
    ratio = getattr(args, "warmup_ratio", None)
    steps = getattr(args, "warmup_steps", 0) or 0
    if ratio:
        params["warmup_ratio"] = ratio
    elif 0 < steps < 1:
        params["warmup_ratio"] = steps
    return params


def _dataset_size(dataloader: Any) -> int | None:
    """How many examples the evaluation data loader the Trainer hands callbacks holds."""
    try:
        return len(dataloader.dataset)
    except (AttributeError, TypeError):
        return None


class QisCallback(TrainerCallback):
    """At the end of training, drafts the run's outcome packet from ``args.output_dir`` and the
    trainer state, writes it beside the run (``qis-packet.toml``) and logs the one command that
    publishes it; with ``publish=True`` it publishes it instead.

    The packet's scores come from what the run directory holds when training ends: the
    lm-evaluation-harness results of the base and the fine-tuned model, or the Trainer's own
    evaluations (``score_source="trainer"``). A draft that cannot be made (no scores yet) is
    logged with its reason, never raised: training is not failed for it. The draft is
    :attr:`draft`, the publication :attr:`published`, the reason :attr:`error`.

    Args:
        task: the task type (e.g. ``"medical-qa"``): never on disk.
        tags: domain tags.
        publish: publish the draft (publishing a result is your decision; default off).
        bootstrap, network, id_difficulty, home: where to publish (see :mod:`qis.api`).
        use_training_args: state the Trainer's hyperparameters (learning rate, epochs,
            effective batch size, ...) in the packet; files in the run directory that state
            them agree with these.
        **flags: anything else ``from_run`` takes (``family``, ``method``, ``params``, ...).
    """

    def __init__(
        self,
        *,
        task: str,
        tags: Iterable[str] = (),
        publish: bool = False,
        bootstrap: Sequence[str] | str = (),
        network: str = "main",
        id_difficulty: int | None = None,
        home: str | Path | None = None,
        use_training_args: bool = True,
        **flags: Any,
    ) -> None:
        if publish and not bootstrap:
            raise ValueError("publish=True needs bootstrap=[\"host:port\", ...]: a node to publish through")
        self.task = task
        self.tags = list(tags)
        self.publish = publish
        self.client = {"bootstrap": bootstrap, "network": network, "id_difficulty": id_difficulty, "home": home}
        self.use_training_args = use_training_args
        self.flags = flags
        self.draft: Draft | None = None
        self.published: Published | None = None
        self.error: QisError | None = None

    def on_train_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        """Drafts (and publishes, if asked) on the main process only."""
        if not state.is_world_process_zero:
            return
        run_dir = Path(args.output_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        # What Trainer.save_state() writes: the run's steps, epochs and evaluations.
        state.save_to_json(str(run_dir / STATE_FILE))
        flags = dict(self.flags)
        # Scores from the Trainer's own evaluations need their size, which it logs nowhere.
        eval_size = _dataset_size(kwargs.get("eval_dataloader"))
        if eval_size and "eval_samples" not in flags:
            flags["eval_samples"] = eval_size
        if self.use_training_args:
            flags["params"] = {**training_params(args), **flags.get("params", {})}
        try:
            self.draft = api.from_run(
                run_dir, task=self.task, tags=self.tags, out=run_dir / DRAFT_FILE, force=True,
                home=self.client["home"], **flags,
            )
        except QisError as error:
            self.error = error
            logger.warning("qis: no packet drafted from %s: %s", run_dir, error)
            return
        logger.info("qis: drafted %s:\n%s", self.draft.path, self.draft.render())
        if not self.publish:
            logger.warning("qis: drafted %s; check it, then publish it with: %s", self.draft.path, self.publish_command())
            return
        try:
            self.published = api.publish(self.draft, **self.client)
        except QisError as error:
            self.error = error
            logger.warning("qis: the draft %s was not published: %s", self.draft.path, error)
            return
        logger.warning("qis: published packet %s (%d bytes)", self.published.packet_id, self.published.encoded_size)

    def publish_command(self) -> str:
        """The shell command that publishes the draft written at the end of training."""
        path = self.draft.path if self.draft and self.draft.path else Path("OUTPUT_DIR") / DRAFT_FILE
        words = ["qis", "publish", str(path)]
        peers = [self.client["bootstrap"]] if isinstance(self.client["bootstrap"], str) else list(self.client["bootstrap"])
        for peer in peers or ["HOST:PORT"]:
            words += ["--bootstrap", peer]
        if self.client["network"] != "main":
            words += ["--network", self.client["network"]]
        if self.client["id_difficulty"] is not None:
            words += ["--id-difficulty", str(self.client["id_difficulty"])]
        home = self.client["home"]
        return (f"QIS_HOME={shlex.quote(str(home))} " if home is not None else "") + shlex.join(words)
