"""Read and validate ``params.yaml`` into typed, immutable settings, strictly.

Every stage reads params.yaml once, before any heavy work. A wrong value raises
:class:`ParamsError`, whose message is one sentence naming the key and the fix; so does a key
that is not a setting (a typo would otherwise run silently on the default), with the closest
valid key as a suggestion::

    params.yaml: train.learning_rat is not a setting; did you mean train.learning_rate?

The reader is generic: :class:`Section` reads one mapping and records which keys it read, and
:func:`parse_params` reports every key no parser read. The core sections (data, synthetic,
split, windows, parallel, ensemble, evaluate) are parsed here; each member kind parses its own
sections (:class:`KindParams`, passed in by :mod:`genre_ensemble.members.registry`, which is where
stages get :func:`~genre_ensemble.members.registry.load_params` from), so that core imports
nothing of the package outside core.

Choices (``train.optimizer: adam``) are tables from a name to its implementation that live
beside the implementation (:class:`Choices`); a table names its params key, and picking an
unknown name raises the same one-line error. Stage ``validate`` checks every choice against its
table before any other stage runs (:mod:`genre_ensemble.members.choices`).
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.util
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import yaml

from genre_ensemble.core.paths import PARAMS_FILE

T = TypeVar("T")

# Keys an earlier version of params.yaml had: old dotted key -> the key that replaced it.
RENAMED: dict[str, str] = {
    "segments": "windows",
    "data.gtzan_dir": "data.dir",
    "musicnn": "pretrained.musicnn",
    "images.n_jobs": "parallel.n_jobs",
    "images.backend": "parallel.backend",
}


class ParamsError(ValueError):
    """A params.yaml value is missing, wrong or unknown; the message names the key and the fix."""

    def __init__(self, key: str, problem: str, fix: str) -> None:
        self.key = key
        end = "" if fix.endswith(("?", ".")) else "."
        super().__init__(f"params.yaml: {key} {problem}; {fix}{end}")


class Choices(Mapping[str, T], Generic[T]):
    """A choice of params.yaml: option name -> its implementation, beside the implementation.

    Parameters
    ----------
    key : str
        The dotted params key it is chosen by (e.g. ``"train.optimizer"``); for a setting of
        several members, the key with ``<member>`` in it.
    table : mapping
        Option name -> implementation (a function, a class, a constant).
    """

    def __init__(self, key: str, table: Mapping[str, T]) -> None:
        self.key = key
        self._table = dict(table)

    def __getitem__(self, name: str) -> T:
        return self._table[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)

    def pick(self, name: Any, *, key: str | None = None) -> T:
        """The implementation of option ``name``.

        Raises
        ------
        ParamsError
            Naming ``key`` (default: the table's) and the options, when ``name`` is not one.
        """
        if isinstance(name, str) and name in self._table:
            return self._table[name]
        raise ParamsError(key or self.key, f"is {name!r}", f"use one of: {', '.join(self)}")


class Section:
    """Typed access to one mapping of params.yaml; every key read is recorded.

    Errors name the full dotted key. After parsing, :meth:`unknown` lists the keys no parser
    read: they are not settings.
    """

    def __init__(self, raw: Any, prefix: str, *, optional: bool = False) -> None:
        if raw is None and optional:
            raw = {}
        if not isinstance(raw, Mapping):
            raise ParamsError(prefix, "is missing or not a mapping", f"add a '{prefix}:' section")
        self.raw = raw
        self.prefix = prefix
        self.read: set[str] = set()
        self.children: list[Section] = []

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}"

    def get(self, name: str) -> Any:
        self.read.add(name)
        if name not in self.raw:
            raise ParamsError(self.key(name), "is missing", "add it (see params.yaml's comments)")
        return self.raw[name]

    def section(self, name: str) -> Section:
        self.read.add(name)
        child = Section(self.raw.get(name), self.key(name))
        self.children.append(child)
        return child

    def sections(self) -> dict[str, Section]:
        """Every entry of this mapping as a section of its own (a mapping of named members)."""
        return {str(name): self.section(str(name)) for name in self.raw}

    def integer(self, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
        value = self.get(name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamsError(self.key(name), f"is {value!r}", "use a whole number")
        if minimum is not None and value < minimum:
            raise ParamsError(self.key(name), f"is {value}", f"use a value >= {minimum}")
        if maximum is not None and value > maximum:
            raise ParamsError(self.key(name), f"is {value}", f"use a value <= {maximum}")
        return value

    def number(
        self,
        name: str,
        *,
        low: float | None = None,
        high: float | None = None,
        low_open: bool = False,
        high_open: bool = False,
    ) -> float:
        value = self.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise ParamsError(self.key(name), f"is {value!r}", "use a number")
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and (value >= high if high_open else value > high)
        if too_low or too_high:
            left = "(" if low_open else "["
            right = ")" if high_open else "]"
            bounds = (
                f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
            )
            raise ParamsError(self.key(name), f"is {value}", f"use a value in {bounds}")
        return float(value)

    def choice(self, name: str, choices: Mapping[str, Any]) -> str:
        """A name that must be one of ``choices``' keys (a :class:`Choices` table)."""
        value = self.get(name)
        if value not in choices:
            raise ParamsError(self.key(name), f"is {value!r}", f"use one of: {', '.join(choices)}")
        return value

    def name(self, name: str) -> str:
        """An option name whose table the code that acts on it checks (:meth:`Choices.pick`;
        stage ``validate`` checks every one first)."""
        return self.text(name)

    def text(self, name: str) -> str:
        value = self.get(name)
        if not isinstance(value, str) or not value:
            raise ParamsError(self.key(name), f"is {value!r}", "use a non-empty string")
        return value

    def names(self, name: str, *, allowed: Sequence[str] | None = None, what: str = "entry"
              ) -> tuple[str, ...]:
        """A non-empty list of distinct strings, each in ``allowed`` when given."""
        values = self.get(name)
        key = self.key(name)
        if not isinstance(values, list) or not values:
            options = f" of: {', '.join(allowed)}" if allowed else ""
            raise ParamsError(key, f"is {values!r}", f"list one or more{options}")
        for value in values:
            if not isinstance(value, str) or (allowed is not None and value not in allowed):
                options = f"use only: {', '.join(allowed)}" if allowed else "use names (strings)"
                raise ParamsError(key, f"names unknown {what} {value!r}", options)
        if len(set(values)) != len(values):
            raise ParamsError(key, f"repeats an {what} in {values}", f"list each {what} once")
        return tuple(values)

    def unknown(self) -> Iterator[tuple[str, list[str]]]:
        """(dotted key, the valid keys beside it) of every key here and below that no parser
        read."""
        valid = sorted(self.read)
        for name in self.raw:
            if name not in self.read:
                yield self.key(str(name)), [self.key(v) for v in valid]
        for child in self.children:
            yield from child.unknown()


def _closest(name: str, names: Sequence[str]) -> str | None:
    """The name of ``names`` a typo of ``name`` most likely meant (a close spelling, or one
    that starts with the other), ``None`` when none is close."""
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if close:
        return close[0]
    if len(name) >= 3:
        prefixed = [n for n in names if n.startswith(name) or name.startswith(n)]
        if len(prefixed) == 1:
            return prefixed[0]
    return None


def unknown_key_error(key: str, valid: Sequence[str]) -> ParamsError:
    """The error for a key that is not a setting: the closest valid key beside it (or what
    replaced a renamed one) as the suggestion, else the settings there are."""
    if key in RENAMED:
        return ParamsError(key, "is not a setting any more",
                           f"it was renamed: use {RENAMED[key]}")
    parent, _, name = key.rpartition(".")
    siblings = {v.rpartition(".")[2]: v for v in valid}
    renamed = {old.rpartition(".")[2]: new for old, new in RENAMED.items()
               if old.rpartition(".")[0] == parent}
    close = _closest(name, [*siblings, *renamed])
    if close in siblings:
        return ParamsError(key, "is not a setting", f"did you mean {siblings[close]}?")
    if close in renamed:
        old = f"{parent}.{close}" if parent else close
        return ParamsError(key, "is not a setting",
                           f"did you mean {renamed[close]} ({old} was renamed to it)?")
    where = f"under {parent}" if parent else "at the top level"
    return ParamsError(key, "is not a setting",
                       f"the settings {where} are: {', '.join(siblings) or 'none'}")


# ---------------------------------------------------------------------------------------------
# The core sections


@dataclass(frozen=True)
class DataParams:
    source: str  # genre_ensemble.corpus.discovery.SOURCES
    dir: Path  # the corpus folder of the gtzan and folder sources
    sample_rate: int
    clip_seconds: float


@dataclass(frozen=True)
class SyntheticParams:
    seed: int
    clips_per_genre: int
    seconds: float
    difficulty: float


@dataclass(frozen=True)
class SplitParams:
    method: str  # genre_ensemble.corpus.splitting.SPLIT_METHODS
    test_size: float
    val_size: float
    seed: int
    folds: int  # kfold only: number of folds
    fold: int  # kfold only: the test fold, 0 .. folds - 1
    calibration: float  # fraction of the validation clips held out for learned weights
    duplicates: str  # genre_ensemble.corpus.duplicates.DUPLICATE_MODES
    duplicate_threshold: float


@dataclass(frozen=True)
class WindowParams:
    """How clips are cut into windows (params ``windows``)."""

    seconds: float  # window length; 0: one window over the whole clip
    overlap: float  # fraction of a window shared with the next


@dataclass(frozen=True)
class ParallelParams:
    """Worker processes for the per-clip work of every stage (params ``parallel``).

    No output depends on them (every clip runs with one BLAS thread, whatever the backend), so
    no stage lists them as a DVC param: changing them reruns nothing.
    """

    n_jobs: int  # joblib's convention: -1 is every core
    backend: str  # genre_ensemble.core.parallel.BACKENDS


@dataclass(frozen=True)
class EnsembleParams:
    members: tuple[str, ...]
    method: str  # genre_ensemble.evaluation.combine.METHODS
    weights: tuple[float, ...] | None  # one per member; None: the method chooses them
    folds: int  # method selected: cross-validation folds over the held-out clips
    seed: int  # method selected: shuffles those folds

    def fixed_weights(self) -> tuple[float, ...]:
        """``weights``, or equal weights when they are null."""
        return self.weights if self.weights is not None else (1.0,) * len(self.members)


@dataclass(frozen=True)
class EvaluateParams:
    bootstrap: int
    seed: int


@dataclass(frozen=True)
class Member:
    """One member of the ensemble as params.yaml declares it: a name, a kind, its settings.

    Two members may share a kind (two pretrained checkpoints side by side); ``settings`` is
    whatever that kind's parser gives for this member.
    """

    name: str
    kind: str
    settings: Any = None


class KindParams(Protocol):
    """The params side of a member kind (see :mod:`genre_ensemble.members.base`)."""

    name: str
    sections: tuple[str, ...]  # the top-level params sections the kind owns

    def parse(self, sections: Mapping[str, Section]) -> tuple[dict[str, Any], list[Member]]:
        """The kind's sections as settings objects, and the members it declares."""

    def check(self, params: Params) -> None:
        """Checks that involve the core sections too (raise :class:`ParamsError`)."""


@dataclass(frozen=True)
class Params:
    """All of params.yaml, validated.

    The core sections are attributes; a member kind's sections are attributes too
    (``params.train``), parsed by that kind; ``members`` holds every member params.yaml
    declares, in pipeline order.
    """

    data: DataParams
    synthetic: SyntheticParams
    split: SplitParams
    windows: WindowParams
    parallel: ParallelParams
    ensemble: EnsembleParams
    evaluate: EvaluateParams
    sections: Mapping[str, Any] = field(default_factory=dict)
    members: Mapping[str, Member] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        sections = self.__dict__.get("sections", {})
        if name in sections:
            return sections[name]
        raise AttributeError(f"params.yaml has no section {name!r}")

    def replace(self, **changes: Any) -> Params:
        """A copy with some sections replaced, core or a kind's (``dataclasses.replace`` for
        both): ``params.replace(train=replace(params.train, epochs=2))``."""
        own = {name: value for name, value in changes.items() if name in self.__dataclass_fields__}
        kinds = {name: value for name, value in changes.items() if name not in own}
        unknown = sorted(set(kinds) - set(self.sections))
        if unknown:
            raise TypeError(f"params have no section {unknown[0]!r}")
        return dataclasses.replace(self, **own, sections={**self.sections, **kinds})

    def member(self, name: str) -> Member:
        """The member called ``name`` (``KeyError`` when params.yaml declares none)."""
        return self.members[name]

    def of_kind(self, kind: str) -> list[Member]:
        """The members of one kind, in pipeline order."""
        return [member for member in self.members.values() if member.kind == kind]


def _data(section: Section) -> DataParams:
    return DataParams(
        source=section.name("source"),
        dir=Path(section.text("dir")),
        sample_rate=section.integer("sample_rate", minimum=4000),
        clip_seconds=section.number("clip_seconds", low=0.5),
    )


def _synthetic(section: Section) -> SyntheticParams:
    return SyntheticParams(
        seed=section.integer("seed", minimum=0),
        clips_per_genre=section.integer("clips_per_genre", minimum=3),
        seconds=section.number("seconds", low=0.5),
        difficulty=section.number("difficulty", low=0.0, high=1.0),
    )


def _split(section: Section) -> SplitParams:
    folds = section.integer("folds", minimum=2)
    fold = section.integer("fold", minimum=0)
    if fold >= folds:
        raise ParamsError(
            section.key("fold"),
            f"is {fold} but split.folds is {folds} (folds are numbered 0 .. {folds - 1})",
            f"use a fold below {folds} or raise split.folds",
        )
    return SplitParams(
        method=section.name("method"),
        test_size=section.number("test_size", low=0.0, high=1.0, low_open=True, high_open=True),
        val_size=section.number("val_size", low=0.0, high=1.0, low_open=True, high_open=True),
        seed=section.integer("seed", minimum=0),
        folds=folds,
        fold=fold,
        calibration=section.number("calibration", low=0.0, high=1.0, high_open=True),
        duplicates=section.name("duplicates"),
        duplicate_threshold=section.number("duplicate_threshold", low=0.0, high=1.0,
                                           low_open=True),
    )


def cross_fit_folds(section: Section) -> int:
    """A classifier member's ``cross_fit``: 0 (fit on the training clips) or the number of
    folds (>= 2) of out-of-fold predictions over the train and val clips."""
    folds = section.integer("cross_fit", minimum=0)
    if folds == 1:
        raise ParamsError(section.key("cross_fit"), "is 1, and one fold predicts nothing out of "
                          "fold", "use 0 (fit on the training clips) or 2 or more folds, e.g. 5")
    return folds


def _windows(section: Section) -> WindowParams:
    seconds = section.number("seconds", low=0.0)
    overlap = section.number("overlap", low=0.0, high=1.0, high_open=True)
    if 0 < seconds < 0.5:
        raise ParamsError(section.key("seconds"), f"is {seconds}",
                          "use 0 (whole clips) or at least 0.5 s")
    return WindowParams(seconds=seconds, overlap=overlap)


def _parallel(section: Section) -> ParallelParams:
    return ParallelParams(n_jobs=section.integer("n_jobs", minimum=-1),
                          backend=section.name("backend"))


def _ensemble(section: Section, members: Sequence[str]) -> EnsembleParams:
    names = section.names("members", allowed=members, what="member")
    method = section.name("method")
    folds = section.integer("folds", minimum=2)
    seed = section.integer("seed", minimum=0)
    weights = section.get("weights")
    weights_key = section.key("weights")
    if weights is None:
        return EnsembleParams(members=names, method=method, weights=None, folds=folds, seed=seed)
    if not isinstance(weights, list) or len(weights) != len(names):
        raise ParamsError(
            weights_key,
            f"is {weights!r}",
            f"give one weight per member of ensemble.members ({len(names)}: {list(names)}), "
            "or null",
        )
    for weight in weights:
        if isinstance(weight, bool) or not isinstance(weight, int | float) or math.isnan(weight):
            raise ParamsError(weights_key, f"holds {weight!r}", "use numbers only")
        if weight < 0:
            raise ParamsError(weights_key, f"holds negative weight {weight}", "use weights >= 0")
    if sum(weights) <= 0:
        raise ParamsError(weights_key, "is all zero", "give at least one member a weight > 0")
    return EnsembleParams(members=names, method=method,
                          weights=tuple(float(w) for w in weights), folds=folds, seed=seed)


def _evaluate(section: Section) -> EvaluateParams:
    return EvaluateParams(
        bootstrap=section.integer("bootstrap", minimum=0),
        seed=section.integer("seed", minimum=0),
    )


def _cross_checks(params: Params) -> None:
    """Checks of the core sections that involve more than one key."""
    window = params.windows
    clip_seconds = params.data.clip_seconds
    if window.seconds > clip_seconds:
        raise ParamsError(
            "windows.seconds",
            f"is {window.seconds} s, longer than data.clip_seconds ({clip_seconds} s)",
            "use a window no longer than the clip, or 0 for whole clips",
        )
    if params.split.test_size + params.split.val_size * (1 - params.split.test_size) >= 0.95:
        raise ParamsError(
            "split.val_size",
            "leaves almost nothing for training together with split.test_size",
            "lower split.test_size or split.val_size",
        )
    if params.data.source == "synthetic" and params.synthetic.seconds < clip_seconds:
        raise ParamsError(
            "data.clip_seconds",
            f"is {clip_seconds} s but synthetic clips last {params.synthetic.seconds} s",
            "set data.clip_seconds to synthetic.seconds (or less)",
        )


def parse_params(raw: Any, kinds: Sequence[KindParams]) -> Params:
    """Validate a parsed params.yaml mapping and return typed settings.

    Parameters
    ----------
    raw : mapping
        The YAML document as loaded by ``yaml.safe_load``.
    kinds : sequence of KindParams
        The member kinds, each parsing the sections it owns.

    Returns
    -------
    Params

    Raises
    ------
    ParamsError
        On the first missing, wrong or unknown key.
    """
    if not isinstance(raw, Mapping):
        raise ParamsError("params.yaml", "is empty or not a mapping", "restore it from git")
    read: list[Section] = []

    def section(name: str, *, optional: bool = False) -> Section:
        parsed = Section(raw.get(name), name, optional=optional)
        read.append(parsed)
        return parsed

    data = _data(section("data"))
    synthetic = _synthetic(section("synthetic"))
    split = _split(section("split"))
    windows = _windows(section("windows"))
    parallel = _parallel(section("parallel"))
    settings: dict[str, Any] = {}
    members: dict[str, Member] = {}
    for kind in kinds:
        owned = {name: section(name, optional=True) for name in kind.sections}
        kind_settings, declared = kind.parse(owned)
        settings.update(kind_settings)
        for member in declared:
            if member.name in members:
                raise ParamsError(
                    f"{kind.sections[0]}.{member.name}",
                    f"names a member that is already a {members[member.name].kind} member",
                    "give it another name",
                )
            members[member.name] = member
    ensemble = _ensemble(section("ensemble"), list(members))
    evaluate = _evaluate(section("evaluate"))
    known = {parsed.prefix for parsed in read}
    for name in raw:
        if name not in known:
            raise unknown_key_error(str(name), sorted(known))
    for parsed in read:
        for key, valid in parsed.unknown():
            raise unknown_key_error(key, valid)
    params = Params(data=data, synthetic=synthetic, split=split, windows=windows,
                    parallel=parallel, ensemble=ensemble, evaluate=evaluate,
                    sections=settings, members=members)
    _cross_checks(params)
    for kind in kinds:
        kind.check(params)
    return params


def read_params(path: str | Path = PARAMS_FILE) -> Any:
    """The YAML document of ``path`` (not validated)."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(str(path), "does not exist", "run from the repository root")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ParamsError(str(path), f"is not valid YAML ({error})", "fix the syntax") from error


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested params -> dotted keys: ``{"split": {"fold": 1}}`` -> ``{"split.fold": 1}``."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


def module_installed(module: str) -> bool:
    """Whether ``module``'s top-level package can be imported (without importing it)."""
    return importlib.util.find_spec(module.split(".")[0]) is not None
