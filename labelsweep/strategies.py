"""The cells a run trains, one record per strategy: the baseline, cleanlab's prune/relabel grid, the strategies
and the controls.

A :class:`Strategy` says how it derives a run's training labels from what the pipeline knows of the run
(:class:`Evidence`: the given, original and suggested labels, the flip and flag masks, label quality), whether
it takes a share of a threshold grid, and how figures and tables name its cells. :data:`STRATEGIES` holds them
in training order; :func:`register` adds one. Everything downstream -- the training sets
(:func:`training_cells`), params.yaml's `strategies`, the tables, figures, claims and headline metrics -- reads
this registry, so a new strategy is one :func:`register` call. A strategy that changes how a model trains (a
loss, early stopping) rather than, or besides, its labels carries those settings in `training` (issue 28's robust
alternatives: :data:`ROBUST_TRAINING`); stages/train_eval.py trains each such cell under the one protocol of
labelsweep.training (same initial weights, batches and step count as its group), only its loss or epoch differing.

A strategy defined outside the package is a *plugin*: a module that calls :func:`register` when imported, named
in the environment variable ``LABELSWEEP_PLUGINS`` (comma-separated dotted module names, or paths of ``.py``
files). This module imports them after its built-in entries, so their cells train after the built-in ones and
the registry is complete wherever it is read. It is an environment variable, not a setting, because every stage
runs in a process of its own that DVC starts: the variable reaches all of them (and `dvc repro` itself), while a
:func:`register` call in the process that starts DVC would reach none. DVC does not track a plugin's file: after
changing one, rerun with ``dvc repro --force``.

A cell is a :class:`Cell`: a strategy and its share (None where it takes none). On disk it is the pair of
columns ``strategy, prune_share`` (NaN: no share) or the key ``<strategy>@<share>`` (:attr:`Cell.key`).
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from labelsweep.labels import NO_LABEL

BASELINE, PRUNE_RELABEL, KEEP_REST = "baseline", "prune_relabel", "keep_rest"
PERFECT_DETECTION, RANDOM_REMOVAL, TRUE_LABELS = "perfect_detection", "random_removal", "true_labels"
CONFIDENT_RELABEL = "confident_relabel"
EARLY_STOPPING, GCE, LABEL_SMOOTHING, GCE_PRUNE_ALL = "early_stopping", "gce", "label_smoothing", "gce_prune_all"
BASELINE_KIND, CLEANLAB, CONTROL = "baseline", "cleanlab", "control"  # Strategy.kind: controls are drawn dashed
# Issue 28: what a practitioner tries instead of cleaning (robust), and cleaning with it (both)
ROBUST, CLEANLAB_ROBUST = "robust", "cleanlab_robust"


class Cell(NamedTuple):
    """One training set of a run: a strategy, and the share of the flagged it prunes where it takes one."""

    strategy: str
    share: float | None = None

    @property
    def key(self) -> str:
        """The on-disk key: ``prune_relabel@0.5``, ``baseline``."""
        return self.strategy if self.share is None else f"{self.strategy}@{self.share:g}"

    @classmethod
    def parse(cls, key: str) -> Cell:
        strategy, _, share = key.partition("@")
        return cls(strategy, float(share) if share else None)

    @classmethod
    def of(cls, strategy: str, prune_share: float) -> Cell:
        """From the table columns ``strategy, prune_share`` (NaN: no share)."""
        return cls(strategy, None if math.isnan(prune_share) else float(prune_share))

    @property
    def prune_share(self) -> float:
        """The table column's value: the share, or NaN."""
        return math.nan if self.share is None else self.share

    @property
    def record(self) -> Strategy:
        return STRATEGIES[self.strategy]

    @property
    def label(self) -> str:
        """How figures name the cell."""
        return self.record.label(self.share)

    @property
    def header(self) -> str:
        """How tables head the cell's column."""
        return self.record.header(self.share)


@dataclass(frozen=True)
class Evidence:
    """What a run's training labels may be derived from (one row per training sample of the run)."""

    given: np.ndarray  # the noisy labels
    original: np.ndarray  # the dataset's labels
    flipped: np.ndarray  # the injected flips
    flagged: np.ndarray  # cleanlab's flags
    quality: np.ndarray  # cleanlab's label quality (low: suspicious)
    suggested: np.ndarray  # cleanlab's suggested label
    suggested_prob: np.ndarray  # its probability
    confident_min: float  # params.yaml confident_relabel_min
    rng: np.random.Generator  # the run's own stream for random choices


@dataclass(frozen=True)
class Strategy:
    """One strategy or control. `labels(evidence, share)` gives the training labels (NO_LABEL: pruned); `label`
    and `header` name a cell (of a share, or None) in figures and in tables; a `shared` strategy runs at every
    share of its run's threshold grid, `shown` are the shares the docs' accuracy table gives a column; `rest`
    says what a shared strategy does with the flagged it does not prune; `optional` ones are chosen in
    params.yaml `strategies`."""

    name: str
    labels: Callable[[Evidence, float | None], np.ndarray]
    label: Callable[[float | None], str]
    header: Callable[[float | None], str]
    kind: str = CLEANLAB
    shared: bool = False
    shown: tuple[float, ...] = ()
    rest: str = ""
    optional: bool = True
    # Training settings of its own (issue 28): `loss` (a name of labelsweep.losses.LOSSES) with `q` or
    # `label_smoothing`, or `early_stopping: True` (params.yaml early_stopping.holdout); None: cross-entropy.
    training: Mapping[str, Any] | None = None


STRATEGIES: dict[str, Strategy] = {}
# The order of the docs' tables and the headline metrics (training order is the registry's); others come last.
READING_ORDER = (BASELINE, PRUNE_RELABEL, KEEP_REST, CONFIDENT_RELABEL, RANDOM_REMOVAL, PERFECT_DETECTION, TRUE_LABELS)


def register(strategy: Strategy) -> Strategy:
    """Add `strategy` to the registry (after the others: its cells train last)."""
    STRATEGIES[strategy.name] = strategy
    return strategy


def optional() -> tuple[str, ...]:
    """The names params.yaml `strategies` may list."""
    return tuple(name for name, strategy in STRATEGIES.items() if strategy.optional)


def in_reading_order() -> list[Strategy]:
    rank = {name: i for i, name in enumerate(READING_ORDER)}
    return sorted(STRATEGIES.values(), key=lambda s: rank.get(s.name, len(rank)))


def split_flagged(flagged: np.ndarray, quality: np.ndarray, prune_share: float) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(prune_idx, relabel_idx)``: indices of flagged samples to prune and to relabel.

    ``floor(prune_share * n_flagged + 0.5)`` samples are pruned, lowest quality first; ties are broken
    by sample index so the split is deterministic.
    """
    if not 0 <= prune_share <= 1:
        raise ValueError(f"prune_share must be in [0, 1], got {prune_share}")
    flagged_idx = np.flatnonzero(flagged)
    order = np.lexsort((flagged_idx, quality[flagged_idx]))  # by quality, then by index
    ranked = flagged_idx[order]
    n_prune = int(math.floor(prune_share * len(ranked) + 0.5))
    return np.sort(ranked[:n_prune]), np.sort(ranked[n_prune:])


def cleaned_labels(given: np.ndarray, flagged: np.ndarray, quality: np.ndarray, suggested: np.ndarray,
                   prune_share: float) -> np.ndarray:
    """Training labels after pruning/relabelling: `given` with pruned samples set to ``NO_LABEL``."""
    prune_idx, relabel_idx = split_flagged(flagged, quality, prune_share)
    labels = np.asarray(given, dtype=np.int64).copy()
    labels[relabel_idx] = suggested[relabel_idx]
    labels[prune_idx] = NO_LABEL
    return labels


def kept_labels(given: np.ndarray, flagged: np.ndarray, quality: np.ndarray, prune_share: float) -> np.ndarray:
    """The original author's next step: prune the lowest-quality share of the flagged samples and keep the
    rest of them with their given labels (``prune_share=0``: the baseline; ``1``: prune all flagged)."""
    prune_idx, _ = split_flagged(flagged, quality, prune_share)
    labels = np.asarray(given, dtype=np.int64).copy()
    labels[prune_idx] = NO_LABEL
    return labels


def _random_removal(e: Evidence, share: float | None) -> np.ndarray:
    """As many samples pruned as cleanlab flags, chosen at random: how much of cleanlab's gain is only having
    fewer samples."""
    removed = np.zeros(len(e.given), dtype=bool)
    removed[e.rng.choice(len(e.given), size=int(np.sum(e.flagged)), replace=False)] = True
    return np.where(removed, NO_LABEL, e.given)


def _confident_relabel(e: Evidence, share: float | None) -> np.ndarray:
    """A flagged sample relabelled where its suggested label's probability is at least `confident_min`, the other
    flagged samples pruned."""
    sure = e.flagged & (e.suggested_prob >= e.confident_min)
    return np.where(sure, e.suggested, np.where(e.flagged, NO_LABEL, e.given)).astype(np.int64)


def _named(ends: Mapping[float, str], otherwise: str) -> Callable[[float | None], str]:
    """A shared strategy's name for a share: `ends` where it names the share, else `otherwise` with {percent}."""
    return lambda share: ends.get(share, otherwise.format(percent=f"{100 * share:g}"))


def _fixed(text: str) -> Callable[[float | None], str]:
    return lambda share: text


register(Strategy(BASELINE, lambda e, share: np.asarray(e.given, dtype=np.int64).copy(),
                  _fixed("baseline (noisy labels)"), _fixed("baseline"), kind=BASELINE_KIND, optional=False))
register(Strategy(PRUNE_RELABEL, lambda e, t: cleaned_labels(e.given, e.flagged, e.quality, e.suggested, t),
                  _named({1.0: "cleanlab: prune all flagged", 0.0: "cleanlab: relabel all flagged"},
                         "cleanlab: prune {percent} %, relabel the rest"),
                  _named({1.0: "prune all", 0.0: "relabel all", 0.5: "prune ½, relabel ½"},
                         "prune {percent} %, relabel the rest"),
                  shared=True, shown=(1.0, 0.0, 0.5), rest="the rest relabelled", optional=False))
register(Strategy(KEEP_REST, lambda e, t: kept_labels(e.given, e.flagged, e.quality, t),
                  _named({}, "cleanlab: prune {percent} %, keep the rest"),
                  _named({0.5: "prune ½, keep ½"}, "prune {percent} %, keep the rest"),
                  shared=True, shown=(0.5,), rest="the rest kept as labelled"))
register(Strategy(PERFECT_DETECTION, lambda e, share: np.where(e.flipped, NO_LABEL, e.given),
                  _fixed("control: prune exactly the flips"), _fixed("perfect detection"), kind=CONTROL))
register(Strategy(RANDOM_REMOVAL, _random_removal, _fixed("control: prune as many at random"),
                  _fixed("random removal"), kind=CONTROL))
register(Strategy(TRUE_LABELS, lambda e, share: np.asarray(e.original, dtype=np.int64).copy(),
                  _fixed("control: true labels"), _fixed("true labels"), kind=CONTROL))
register(Strategy(CONFIDENT_RELABEL, _confident_relabel, _fixed("cleanlab: relabel if p ≥ min, prune the rest"),
                  _fixed("confident relabel")))


def _given(e: Evidence, share: float | None) -> np.ndarray:
    return np.asarray(e.given, dtype=np.int64).copy()


# Issue 28's training settings. GCE rather than symmetric cross-entropy: one parameter (q) against SCE's two (alpha,
# beta, and its clip of log 0), a loss bounded by 1/q that gives a rejected wrong label a bounded pull, and the
# robust loss of the CIFAR-10N/100N benchmark's baselines (Wei et al. 2022), so our numbers can sit beside theirs;
# q = 0.7 is Zhang & Sabuncu's choice for CIFAR. Label smoothing's value was chosen on a validation split of
# Fashion-MNIST's training set at 30 % symmetric noise among 0.1, 0.2 and 0.3 (bench/robust.py, BENCHMARKS.md).
GCE_TRAINING = {"loss": "gce", "q": 0.7}
LABEL_SMOOTHING_VALUE = 0.2
ROBUST_TRAINING = {EARLY_STOPPING: {"early_stopping": True}, GCE: GCE_TRAINING,
                   LABEL_SMOOTHING: {"loss": "cross_entropy", "label_smoothing": LABEL_SMOOTHING_VALUE},
                   GCE_PRUNE_ALL: GCE_TRAINING}
register(Strategy(EARLY_STOPPING, _given, _fixed("early stopping on a noisy holdout"), _fixed("early stopping"),
                  kind=ROBUST, training=ROBUST_TRAINING[EARLY_STOPPING]))
register(Strategy(GCE, _given, _fixed("generalized cross-entropy (q = 0.7)"), _fixed("GCE"), kind=ROBUST,
                  training=ROBUST_TRAINING[GCE]))
register(Strategy(LABEL_SMOOTHING, _given, _fixed(f"label smoothing ({LABEL_SMOOTHING_VALUE:g})"),
                  _fixed("label smoothing"), kind=ROBUST, training=ROBUST_TRAINING[LABEL_SMOOTHING]))
register(Strategy(GCE_PRUNE_ALL, lambda e, share: cleaned_labels(e.given, e.flagged, e.quality, e.suggested, 1.0),
                  _fixed("cleanlab: prune all flagged, trained with GCE"), _fixed("prune all + GCE"),
                  kind=CLEANLAB_ROBUST, training=ROBUST_TRAINING[GCE_PRUNE_ALL]))

PRUNE_ALL, RELABEL_ALL = Cell(PRUNE_RELABEL, 1.0), Cell(PRUNE_RELABEL, 0.0)
PLUGINS = "LABELSWEEP_PLUGINS"


def load_plugins(names: str) -> None:
    """Import every plugin of `names` (comma-separated module names or ``.py`` paths): each registers its own."""
    for name in filter(None, (part.strip() for part in names.split(","))):
        if name.endswith(".py"):
            spec = importlib.util.spec_from_file_location(os.path.basename(name)[:-3], name)
            if spec is None or spec.loader is None:
                raise ImportError(f"{PLUGINS}: cannot load {name}")
            spec.loader.exec_module(importlib.util.module_from_spec(spec))
        else:
            importlib.import_module(name)


load_plugins(os.environ.get(PLUGINS, ""))


def training_cells(evidence: Evidence, thresholds: list[float], chosen: list[str]) -> list[tuple[Cell, np.ndarray]]:
    """Every training set of one run, in registry order: the strategies that are not optional and those
    `chosen`, a shared one at every share of `thresholds`."""
    return [(Cell(s.name, share), s.labels(evidence, share))
            for s in STRATEGIES.values() if not s.optional or s.name in chosen
            for share in (thresholds if s.shared else [None])]
