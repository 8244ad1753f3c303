"""Log analysis: clustering message shapes into templates, online, in bounded time and memory.

Shapes (``monitoring/analysis/shapes.py``) arrive one distinct shape at a time. Each gets a
*shape id* at once (:meth:`ShapeClusters.add`), and joins the most similar cluster of its
length (Drain's idea: the share of positions that agree, a variable agreeing with anything,
at least ``sim_th``) or starts one. A cluster remembers, per position where its shapes
differ, the distinct values seen there, up to ``max_values``.

:meth:`ShapeClusters.resolve` then turns clusters into templates, as a tuned parser would
but without tuning (Brain's idea: a position with few distinct values is constant):

1. in each cluster, a position is variable when it held a variable or more than
   ``max_values`` distinct values; the others are constant, so shapes that differ there
   are different templates (``bytes`` / ``values``, ``begin`` / ``end``);
2. templates of one length that differ in one position only, with more than
   ``max_values`` distinct values there, merge (a second pass across clusters: the same
   template reached through different clusters), up to three rounds;
3. equal templates are one group, whatever cluster they came from.

Cost: a new shape is compared with at most ``bucket_size`` clusters (those of its length
and first token, most recently used first), so a flood of distinct messages costs linear
time; at most ``max_shapes`` shapes are held (:data:`OVERFLOW` is the id of any further
one until :meth:`ShapeClusters.prune` makes room). No errors are raised.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from monitoring.analysis.shapes import WILDCARD

#: The shape id given when the table is full (one overflow group for all such shapes).
OVERFLOW = -1
#: Templates longer than this (tokens) do not take part in the merge across clusters.
MAX_MERGE_TOKENS = 48
_MERGE_ROUNDS = 3


class _Cluster:
    """Shapes of one length that agree on at least ``sim_th`` of their positions."""

    __slots__ = ("cluster_id", "template", "values")

    def __init__(self, cluster_id: int, shape: tuple[str, ...]) -> None:
        self.cluster_id = cluster_id
        self.template = list(shape)
        #: position -> distinct values seen there (None: more than max_values, variable)
        self.values: dict[int, set[str] | None] = {}

    def similarity(self, shape: tuple[str, ...], max_misses: int) -> float:
        """Share (0..1) of positions where template and shape agree; 0.0 past ``max_misses``."""
        misses = 0
        for mine, theirs in zip(self.template, shape, strict=True):
            if mine != theirs:
                misses += 1
                if misses > max_misses:
                    return 0.0
        return 1.0 - misses / len(shape)

    def absorb(self, shape: tuple[str, ...], max_values: int) -> None:
        """Take ``shape`` in: note the values at the positions where it differs."""
        template, values = self.template, self.values
        for position, token in enumerate(shape):
            mine = template[position]
            if mine == token:
                continue
            if mine != WILDCARD:  # first difference here: every earlier shape had ``mine``
                template[position] = WILDCARD
                seen: set[str] | None = {mine, token}
                values[position] = None if token == WILDCARD else seen
                continue
            seen = values.get(position)
            if seen is None:
                continue
            if token == WILDCARD or (token not in seen and len(seen) >= max_values):
                values[position] = None
            else:
                seen.add(token)

    def variables(self) -> frozenset[int]:
        """Positions that are variable in every template of this cluster."""
        return frozenset(
            p
            for p, token in enumerate(self.template)
            if token == WILDCARD and not self.values.get(p)
        )


class ShapeClusters:
    """Shapes -> clusters -> templates (see the module docstring).

    Args:
        sim_th: share of positions (0..1) that must agree for a shape to join a cluster.
        max_values: a position with at most this many distinct values is constant.
        max_shapes: distinct shapes held at most; further ones get :data:`OVERFLOW`.
        bucket_size: clusters compared with a new shape at most (per length and first token).
    """

    def __init__(
        self,
        *,
        sim_th: float = 0.7,
        max_values: int = 3,
        max_shapes: int = 20_000,
        bucket_size: int = 32,
    ) -> None:
        self.sim_th = sim_th
        self.max_values = max_values
        self.max_shapes = max_shapes
        self.bucket_size = bucket_size
        self._ids: dict[tuple[str, ...], int] = {}
        self._shapes: dict[int, tuple[tuple[str, ...], _Cluster]] = {}
        self._buckets: dict[tuple[int, str], list[_Cluster]] = {}
        self._next_shape = 0
        self._next_cluster = 0
        self._resolved: dict[int, int] | None = None
        #: Shapes compared with a cluster so far (a measure of cost, for tests and benches).
        self.comparisons = 0

    def __len__(self) -> int:
        return len(self._shapes)

    @property
    def full(self) -> bool:
        """Whether new shapes get :data:`OVERFLOW` (until :meth:`prune`)."""
        return len(self._shapes) >= self.max_shapes

    def add(self, shape: tuple[str, ...]) -> int:
        """The id of ``shape`` (new ones join or start a cluster); :data:`OVERFLOW` if full."""
        shape_id = self._ids.get(shape)
        if shape_id is not None:
            return shape_id
        if len(self._shapes) >= self.max_shapes:
            return OVERFLOW
        cluster = self._place(shape)
        shape_id = self._next_shape
        self._next_shape += 1
        self._ids[shape] = shape_id
        self._shapes[shape_id] = (shape, cluster)
        self._resolved = None
        return shape_id

    def _place(self, shape: tuple[str, ...]) -> _Cluster:
        bucket = self._buckets.setdefault(self._anchor(shape), [])
        best: _Cluster | None = None
        best_sim = self.sim_th
        max_misses = int((1.0 - self.sim_th) * len(shape) + 1e-9)
        for cluster in reversed(bucket):  # most recently used first
            self.comparisons += 1
            sim = cluster.similarity(shape, max_misses)
            if sim >= best_sim and (best is None or sim > best_sim):
                best, best_sim = cluster, sim
                if sim == 1.0:
                    break
        if best is not None:
            best.absorb(shape, self.max_values)
            if bucket[-1] is not best:
                bucket.remove(best)
                bucket.append(best)
            return best
        cluster = _Cluster(self._next_cluster, shape)
        self._next_cluster += 1
        bucket.append(cluster)
        if len(bucket) > self.bucket_size:
            del bucket[0]  # still resolves its shapes; no longer found by new ones
        return cluster

    @staticmethod
    def _anchor(shape: tuple[str, ...]) -> tuple[int, str]:
        return (len(shape), shape[0])

    def resolve(self) -> dict[int, int]:
        """Shape id -> group id for every shape held (cached until a new shape arrives).

        Group ids are small integers, equal for shapes of one template; they are only
        meaningful until the next :meth:`add` of a new shape or :meth:`prune`.
        """
        if self._resolved is None:
            templates = {sid: _template(shape, c) for sid, (shape, c) in self._shapes.items()}
            merged = _merge(set(templates.values()), self.max_values)
            ids: dict[tuple[str, ...], int] = {}
            self._resolved = {
                sid: ids.setdefault(merged.get(t, t), len(ids)) for sid, t in templates.items()
            }
        return self._resolved

    def template(self, shape_id: int) -> tuple[str, ...] | None:
        """The resolved template of a shape (its group's tokens), or None if not held."""
        held = self._shapes.get(shape_id)
        if held is None:
            return None
        template = _template(*held)
        merged = _merge({template}, self.max_values)
        return merged.get(template, template)

    def prune(self, keep: Iterable[int]) -> None:
        """Forget every shape but those in ``keep`` (and clusters left without shapes)."""
        kept = {sid: self._shapes[sid] for sid in keep if sid in self._shapes}
        self._shapes = kept
        self._ids = {shape: sid for sid, (shape, _) in kept.items()}
        live = {id(cluster) for _, cluster in kept.values()}
        self._buckets = {
            key: alive
            for key, bucket in self._buckets.items()
            if (alive := [c for c in bucket if id(c) in live])
        }
        self._resolved = None


def _template(shape: tuple[str, ...], cluster: _Cluster) -> tuple[str, ...]:
    variables = cluster.variables()
    if not variables:
        return shape
    return tuple(WILDCARD if p in variables else token for p, token in enumerate(shape))


def _merge(
    templates: set[tuple[str, ...]], max_values: int
) -> dict[tuple[str, ...], tuple[str, ...]]:
    """Template -> merged template, for templates that differ in one position only."""
    final: dict[tuple[str, ...], tuple[str, ...]] = {}
    current = {t for t in templates if len(t) <= MAX_MERGE_TOKENS}
    for _ in range(_MERGE_ROUNDS):
        step = _merge_round(current, max_values)
        if not step:
            break
        for original, now in list(final.items()):
            final[original] = step.get(now, now)
        for before, after in step.items():
            final.setdefault(before, after)
        current = {step.get(t, t) for t in current}
    return final


def _merge_round(
    templates: set[tuple[str, ...]], max_values: int
) -> dict[tuple[str, ...], tuple[str, ...]]:
    """One round: for each position, siblings that agree elsewhere and vary a lot there."""
    by_length: dict[int, list[tuple[str, ...]]] = defaultdict(list)
    for template in templates:
        by_length[len(template)].append(template)
    changed: dict[tuple[str, ...], tuple[str, ...]] = {}
    for length, group in by_length.items():
        if len(group) <= max_values:
            continue
        for position in range(length):
            siblings: dict[tuple[str, ...], set[str]] = defaultdict(set)
            for t in group:
                token = t[position]
                if token[0].isalnum() and token != WILDCARD:  # punctuation never varies
                    siblings[t[:position] + t[position + 1 :]].add(token)
            for rest, values in siblings.items():
                if len(values) <= max_values or _constant_words(rest) < 2:
                    continue
                for value in values:
                    original = (*rest[:position], value, *rest[position:])
                    now = changed.get(original, original)
                    changed[original] = (*now[:position], WILDCARD, *now[position + 1 :])
    return changed


def _constant_words(tokens: tuple[str, ...]) -> int:
    return sum(1 for token in tokens if token[:1].isalpha())
