"""Typed results of the ``qis`` commands: each built from the command's ``--json`` output,
keeping that output whole as ``.raw`` for anything not typed here."""

from __future__ import annotations

import ast
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from .errors import NotFound


@dataclass(frozen=True)
class Origin:
    """Where a drafted value came from.

    Attributes:
        kind: ``"file"`` (read from a file), ``"derived"`` (computed by a stated rule) or
            ``"override"`` (given by flag or argument).
        text: the origin in words, as ``qis packet from-run`` prints it.
        file: the file, relative to the run directory (kind ``file``).
        key: the key inside it (kind ``file``).
        rule: the rule (kind ``derived``).
        flag: the flag (kind ``override``).
    """

    kind: str
    text: str
    file: str | None = None
    key: str | None = None
    rule: str | None = None
    flag: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Origin:
        """From one ``origin`` object of ``packet from-run --json``."""
        return cls(**{f.name: data.get(f.name) for f in dataclasses.fields(cls)})


@dataclass(frozen=True)
class Field:
    """One drafted field: its value as the packet file states it, and its origin (``None``
    when only a default set it)."""

    name: str
    value: str
    origin: Origin | None


@dataclass(frozen=True)
class Draft:
    """A packet drafted from a training run (``qis packet from-run``).

    Attributes:
        run_dir: the run's output directory.
        path: the packet file written (with each origin as a comment), if one was.
        fields: every set field by name (hyperparameters by their qis names, e.g.
            ``learning_rate``), in packet-file order.
        notes: what the publisher should know (files ignored, assumptions made).
    """

    run_dir: Path
    path: Path | None
    fields: dict[str, Field]
    notes: list[str]
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def from_json(cls, run_dir: Path, data: Mapping[str, Any]) -> Draft:
        """From the output of ``packet from-run --json``."""
        fields = {
            f["name"]: Field(f["name"], f["value"], Origin.from_json(f["origin"]) if f["origin"] else None)
            for f in data["fields"]
        }
        out = data.get("out")
        return cls(Path(run_dir), Path(out) if out else None, fields, list(data["notes"]), dict(data))

    def __getitem__(self, name: str) -> str:
        """The value of field ``name`` (``draft["lora_rank"]``)."""
        return self.fields[name].value

    def render(self) -> str:
        """One line per field, ``name = value  (origin)``, then the notes: as the command prints."""
        lines = [f"{f.name} = {f.value}" + (f"  ({f.origin.text})" if f.origin else "") for f in self.fields.values()]
        return "\n".join([*lines, *(f"note: {n}" for n in self.notes)])


@dataclass(frozen=True)
class StoredKey:
    """One semantic key a packet was stored under, and how many nodes took it."""

    level: str
    key: str
    id: str
    acks: int
    verified: int


@dataclass(frozen=True)
class Published:
    """What ``qis publish`` did.

    Attributes:
        packet_id: the signed packet's id (hex).
        encoded_size: its size in bytes (at most 512).
        keys: each key it was stored under, with the nodes that acknowledged and served it back.
        saved: the file it is kept in, from which a node republishes it.
        already_published: the same packet had been published before (this refreshed it).
        ledger_entries: recommendations it was checked against in the ledger.
    """

    packet_id: str
    encoded_size: int
    keys: list[StoredKey]
    saved: Path
    already_published: bool
    ledger_entries: int
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Published:
        """From the output of ``publish --json``."""
        return cls(
            packet_id=data["packet_id"],
            encoded_size=data["encoded_size"],
            keys=[StoredKey(**k) for k in data["keys"]],
            saved=Path(data["saved"]),
            already_published=data["already_published"],
            ledger_entries=data["ledger_entries"],
            raw=dict(data),
        )


@dataclass(frozen=True)
class Reproduced:
    """What ``qis reproduce`` did: your re-run of somebody's packet, signed and stored.

    Attributes:
        reproduction_id: the report's id (hex).
        of: the id of the packet re-run.
        claimed_gain: the gain the packet claimed (unit-interval points).
        your_gain: the gain your re-run realised.
        tolerance: how far below the claim a re-run may fall and still agree.
        agrees: whether your re-run agrees with the claim.
        encoded_size: the report's size in bytes (at most 512).
        keys: each key it was stored under (the packet's), with the nodes that took it.
        saved: the file it is kept in, from which a node republishes it.
    """

    reproduction_id: str
    of: str
    claimed_gain: float
    your_gain: float
    tolerance: float
    agrees: bool
    encoded_size: int
    keys: list[StoredKey]
    saved: Path
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Reproduced:
        """From the output of ``reproduce --json``."""
        return cls(
            reproduction_id=data["reproduction_id"],
            of=data["of"],
            claimed_gain=data["claimed_gain"],
            your_gain=data["your_gain"],
            tolerance=data["tolerance"],
            agrees=data["agrees"],
            encoded_size=data["encoded_size"],
            keys=[StoredKey(**k) for k in data["keys"]],
            saved=Path(data["saved"]),
            raw=dict(data),
        )


@dataclass(frozen=True)
class Packet:
    """One outcome packet a query found, with how similar its context is to the one asked.

    The scores are on the packet's own scale; ``gain`` is positive when the fine-tune helped,
    whichever way the metric points.
    """

    packet_id: str
    similarity: float
    level: str
    family: str
    task: str
    tags: list[str]
    method: str
    benchmark: str
    metric: str
    filter: str
    shots: int
    higher_is_better: bool
    gain: float
    baseline: float
    outcome: float
    delta: float
    eval_samples: int
    held_out: bool
    confidence: float
    hyperparams: dict[str, str]
    publisher: str
    reproductions: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Packet:
        """From one entry of ``query --json``'s ``packets``."""
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls)})


def _call_kwargs(source: str, callee: str | None = None) -> tuple[str, dict[str, Any]]:
    """The class a fragment calls and its keyword arguments, read by Python's parser (the
    values are literals)."""
    calls = [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and (callee is None or node.func.id == callee)
    ]
    if len(calls) != 1:
        raise ValueError(f"expected one call{f' of {callee}' if callee else ''} in the fragment, found {len(calls)}")
    call = calls[0]
    return call.func.id, {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg}


@dataclass(frozen=True)
class OptunaSpace:
    """The recommendation as an Optuna search space (``qis recommend --format optuna``).

    Attributes:
        source: the snippet as the command prints it.
        recommended: the recommendation itself as one point of the space (tried first by
            :meth:`create_study`).
    """

    source: str
    recommended: dict[str, Any]
    _suggest: Callable[[Any], dict[str, Any]] = field(repr=False, compare=False)

    @classmethod
    def from_source(cls, source: str) -> OptunaSpace:
        """Reads the snippet: its ``search_space`` function is compiled (only it: the snippet's
        study is not created) and its enqueued point parsed."""
        tree = ast.parse(source)
        functions = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "search_space"]
        enqueued = [
            n for n in ast.walk(tree)
            if isinstance(n, ast.Call) and getattr(n.func, "attr", None) == "enqueue_trial"
        ]
        if len(functions) != 1 or len(enqueued) != 1:
            raise ValueError("the optuna fragment has no search_space function or no enqueued recommendation")
        namespace: dict[str, Any] = {}
        module = ast.Module(body=functions, type_ignores=[])
        exec(compile(module, "<qis recommend --format optuna>", "exec"), namespace)
        return cls(source, ast.literal_eval(enqueued[0].args[0]), namespace["search_space"])

    def suggest(self, trial: Any) -> dict[str, Any]:
        """The hyperparameters to try in ``trial`` (an ``optuna.Trial``), by qis's names."""
        return self._suggest(trial)

    def create_study(self, **kwargs: Any) -> Any:
        """An ``optuna.create_study(**kwargs)`` (direction ``maximize`` unless given) with the
        recommendation enqueued as its first trial."""
        import optuna

        kwargs.setdefault("direction", "maximize")
        study = optuna.create_study(**kwargs)
        study.enqueue_trial(dict(self.recommended))
        return study


@dataclass(frozen=True)
class Recommendation:
    """A recommendation synthesised from similar runs (``qis recommend``).

    Attributes:
        method: the recommended method (``qlora``, ``dpo+lora``, ...).
        expected_gain: the expected gain on the unit scale (0.05 is 5 points).
        gain_range: the range most of the evidence spans.
        evidence_count: packets it used.
        publishers: distinct publishers among them.
        hyperparameters: each recommended hyperparameter's ``value``, ``support``, ``range``
            or ``choices``, by qis's name.
        found: packets the query found.
        context: the family, task and tags it was made for.
        recommendation_id: the id it was saved under (publish your result with
            ``built_on=[id]``), ``None`` with ``save=False``.
        fragments: each ``--format`` fragment's text, or why there is none, by format name.
    """

    method: str
    expected_gain: float
    gain_range: tuple[float, float]
    evidence_count: int
    publishers: int
    hyperparameters: dict[str, dict[str, Any]]
    found: int
    context: dict[str, Any]
    recommendation_id: str | None
    fragments: dict[str, dict[str, str]] = field(repr=False)
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Recommendation:
        """From the output of ``recommend --json``."""
        rec = data["recommendation"]
        return cls(
            method=rec["method"],
            expected_gain=rec["expected_gain"],
            gain_range=tuple(rec["gain_range"]),
            evidence_count=rec["evidence_count"],
            publishers=rec["publishers"],
            hyperparameters={p["name"]: p for p in rec["hyperparameters"]},
            found=data["found"],
            context=dict(data["context"]),
            recommendation_id=data.get("recommendation_id"),
            fragments=dict(data["fragments"]),
            raw=dict(data),
        )

    def fragment(self, format: str) -> str:
        """The text ``qis recommend --format FORMAT`` prints (``peft``, ``axolotl``, ``trl`` or
        ``optuna``).

        Raises:
            NotFound: there is nothing to paste in that format (the message says why, as the
                command does).
            KeyError: no such format.
        """
        entry = self.fragments[format]
        if "text" not in entry:
            raise NotFound(entry["error"], exit_code=1)
        return entry["text"]

    def peft_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``peft.LoraConfig`` (``--format peft``)."""
        return _call_kwargs(self.fragment("peft"), "LoraConfig")[1]

    def trl_config_class(self) -> str:
        """The TRL config class the ``trl`` fragment configures (``SFTConfig``, ``DPOConfig``, ...)."""
        return _call_kwargs(self.fragment("trl"))[0]

    def training_args(self, cls: type | None = None) -> dict[str, Any]:
        """Keyword arguments for the TRL config :meth:`trl_config_class` names (``--format
        trl``); with ``cls`` (e.g. ``transformers.TrainingArguments``), only those that are
        fields of that dataclass, so ``cls(output_dir=..., **rec.training_args(cls))`` works."""
        kwargs = _call_kwargs(self.fragment("trl"))[1]
        if cls is not None:
            names = {f.name for f in dataclasses.fields(cls)}
            kwargs = {k: v for k, v in kwargs.items() if k in names}
        return kwargs

    def axolotl_yaml(self) -> str:
        """An axolotl YAML fragment (top-level keys) to merge into a config (``--format axolotl``)."""
        return self.fragment("axolotl")

    def optuna_space(self) -> OptunaSpace:
        """An Optuna search space around the recommendation (``--format optuna``)."""
        return OptunaSpace.from_source(self.fragment("optuna"))
