"""The ``qis`` commands as Python functions with typed results: draft a packet from a run,
publish it, query similar runs, get a recommendation, report a reproduction.

Every networked function takes ``bootstrap`` (nodes to join through, ``"host:port"``),
``network`` (default ``"main"``) and ``id_difficulty`` (``None``: the network's default), and
every function ``home`` (the data home holding keys, published packets and saved
recommendations; ``None``: ``$QIS_HOME`` or the command's default). A
:class:`qis.testing.LocalNetwork` gives all four as ``net.options``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from . import _cli
from .errors import InputError
from .results import Draft, Packet, Published, Recommendation, Reproduced

PathLike = str | os.PathLike[str]

#: The run flags of ``packet from-run``, ``publish --from-run`` and ``reproduce`` that take a
#: value, by keyword: ``lm_eval_filter="strict-match"`` is ``--lm-eval-filter strict-match``.
VALUE_FLAGS = (
    "family", "task", "data_scale", "benchmark", "metric", "lm_eval_filter", "shots", "score_source",
    "score_scale", "baseline", "outcome", "eval_samples", "confidence", "method", "outcome_results",
    "baseline_results",
)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _run_flags(
    *,
    tags: Iterable[str] = (),
    params: Mapping[str, Any] | None = None,
    built_on: Iterable[str] = (),
    held_out: bool | None = None,
    lower_is_better: bool = False,
    **values: Any,
) -> list[str]:
    """The command-line flags for what a run's files may lack (see ``qis packet from-run --help``)."""
    unknown = sorted(set(values) - set(VALUE_FLAGS))
    if unknown:
        raise TypeError(f"unknown run flag(s) {', '.join(unknown)}: expected some of {', '.join(VALUE_FLAGS)}, tags, params, built_on, held_out, lower_is_better")
    args: list[str] = []
    for name in VALUE_FLAGS:
        value = values.get(name)
        if value is not None:
            args += [_flag(name), str(value)]
    for tag in _listed("tags", tags):
        args += ["--tag", tag]
    for key, value in (params or {}).items():
        args += ["--param", f"{key}={_text(value)}"]
    for ref in _listed("built_on", built_on):
        args += ["--built-on", ref]
    if held_out is not None:
        args += ["--held-out", "true" if held_out else "false"]
    if lower_is_better:
        args.append("--lower-is-better")
    return args


def _text(value: Any) -> str:
    """A hyperparameter value as the packet file writes it (``True`` is ``true``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _listed(name: str, values: Iterable[str] | str) -> list[str]:
    # A bare string would otherwise be taken one character at a time.
    if isinstance(values, str):
        raise TypeError(f"{name} takes a list of strings, e.g. {name}=[{values!r}], not a string")
    return [str(v) for v in values]


def _client_flags(bootstrap: Sequence[str] | str, network: str, id_difficulty: int | None, timeout: float | None) -> list[str]:
    peers = [bootstrap] if isinstance(bootstrap, str) else list(bootstrap)
    if not peers:
        raise InputError("bootstrap=[]: give at least one node to join through, as \"host:port\" (a LocalNetwork's .bootstrap)")
    args = [a for peer in peers for a in ("--bootstrap", peer)] + ["--network", network, "--json"]
    if id_difficulty is not None:
        args += ["--id-difficulty", str(id_difficulty)]
    if timeout is not None:
        args += ["--timeout", str(timeout)]
    return args


def from_run(
    run_dir: PathLike,
    *,
    task: str | None = None,
    tags: Iterable[str] = (),
    out: PathLike | None = None,
    force: bool = False,
    home: PathLike | None = None,
    **flags: Any,
) -> Draft:
    """Drafts a packet from what a training run wrote (``qis packet from-run``), each field
    with the file and key it came from.

    Args:
        run_dir: the run's output directory.
        task: the task type (never on disk), e.g. ``"medical-qa"``.
        tags: domain tags.
        out: write the packet file here (each value's origin as a comment), to publish later.
        force: replace ``out`` if it exists.
        home: the data home (``built_on`` names saved recommendations there).
        **flags: what the files lack, as ``packet from-run`` takes it: ``family``,
            ``method``, ``baseline``, ``outcome``, ``eval_samples``, ``held_out``,
            ``params={"learning_rate": 2e-4}``, ``built_on=[id]``, ...

    Raises:
        InputError: the run lacks something or is unreadable (the message lists every problem).
    """
    args = ["packet", "from-run", str(run_dir), "--json", *_run_flags(task=task, tags=tags, **flags)]
    if out is not None:
        args += ["--out", str(out)]
    if force:
        args.append("--force")
    return Draft.from_json(Path(run_dir), _cli.run_json(args, home=home))


def publish(
    draft_or_path: Draft | PathLike,
    *,
    bootstrap: Sequence[str] | str,
    network: str = "main",
    id_difficulty: int | None = None,
    home: PathLike | None = None,
    data_dir: PathLike | None = None,
    timeout: float | None = None,
    **flags: Any,
) -> Published:
    """Signs a packet and stores it under its semantic keys (``qis publish``); it is also kept
    in the publisher's data directory, from which a node republishes it.

    Args:
        draft_or_path: a :class:`Draft` written to a file (``from_run(..., out=...)``), a
            packet file, or a run directory (drafted on the spot with ``**flags``).
        data_dir: where the publisher key lives (default ``<home>/publisher``).

    Raises:
        InputError: the packet is invalid. NotFound: no node stored it (it stays kept for
            republishing; the message says where).
    """
    if isinstance(draft_or_path, Draft):
        if draft_or_path.path is None:
            raise InputError("this Draft was not written to a file: draft it with from_run(..., out=PATH) to publish it")
        source = ["publish", str(draft_or_path.path)]
    elif Path(draft_or_path).is_dir():
        source = ["publish", "--from-run", str(draft_or_path), *_run_flags(**flags)]
    else:
        source = ["publish", str(draft_or_path)]
    if flags and source[1] != "--from-run":
        raise TypeError(f"run flags ({', '.join(sorted(flags))}) apply only when publishing a run directory")
    if data_dir is not None:
        source += ["--data-dir", str(data_dir)]
    args = source + _client_flags(bootstrap, network, id_difficulty, timeout)
    return Published.from_json(_cli.run_json(args, home=home))


def _context_flags(family: str | None, task: str, tags: Iterable[str]) -> list[str]:
    args = ["--task", task]
    if family is not None:
        args += ["--family", family]
    for tag in _listed("tags", tags):
        args += ["--tag", tag]
    return args


def query(
    *,
    task: str,
    family: str | None = None,
    tags: Iterable[str] = (),
    limit: int = 20,
    bootstrap: Sequence[str] | str,
    network: str = "main",
    id_difficulty: int | None = None,
    home: PathLike | None = None,
    timeout: float | None = None,
) -> list[Packet]:
    """The packets of contexts similar to yours, most similar first (``qis query``).

    Raises:
        NotFound: no packet for this context. InputError: a malformed family, task or tag.
    """
    args = ["query", *_context_flags(family, task, tags), "--limit", str(limit)]
    data = _cli.run_json(args + _client_flags(bootstrap, network, id_difficulty, timeout), home=home)
    return [Packet.from_json(p) for p in data["packets"]]


def recommend(
    *,
    task: str,
    family: str | None = None,
    tags: Iterable[str] = (),
    trust: Iterable[str] = (),
    save: bool = True,
    bootstrap: Sequence[str] | str,
    network: str = "main",
    id_difficulty: int | None = None,
    home: PathLike | None = None,
    timeout: float | None = None,
) -> Recommendation:
    """A recommendation (method, hyperparameters, expected gain) synthesised from similar runs
    (``qis recommend``), with every ``--format`` fragment: ``.peft_kwargs()``,
    ``.training_args()``, ``.axolotl_yaml()``, ``.optuna_space()``.

    Args:
        trust: publisher ids (as :class:`Packet` ``.publisher``) whose packets get full standing.
        save: keep it under ``<home>/recommendations`` so a result published with
            ``built_on=[rec.recommendation_id]`` is checked against it.

    Raises:
        NotFound: no usable evidence. InputError: a malformed context or publisher id.
    """
    args = ["recommend", *_context_flags(family, task, tags)]
    for publisher in _listed("trust", trust):
        args += ["--trust", publisher]
    if not save:
        args.append("--no-save")
    data = _cli.run_json(args + _client_flags(bootstrap, network, id_difficulty, timeout), home=home)
    return Recommendation.from_json(data)


def reproduce(
    packet: str,
    *,
    from_run: PathLike | None = None,
    bootstrap: Sequence[str] | str,
    network: str = "main",
    id_difficulty: int | None = None,
    home: PathLike | None = None,
    data_dir: PathLike | None = None,
    timeout: float | None = None,
    **flags: Any,
) -> Reproduced:
    """Reports your re-run of somebody's packet (``qis reproduce``): from a run directory, or
    from ``baseline=``, ``outcome=``, ``eval_samples=``. Returns what was stored and whether
    your result agrees with the claim.

    Raises:
        InputError: a bad packet id or re-run. NotFound: the packet was not found, or no node
            stored the report.
    """
    args = ["reproduce", packet, *_run_flags(**flags)]
    if from_run is not None:
        args += ["--from-run", str(from_run)]
    if data_dir is not None:
        args += ["--data-dir", str(data_dir)]
    data = _cli.run_json(args + _client_flags(bootstrap, network, id_difficulty, timeout), home=home)
    return Reproduced.from_json(data)
