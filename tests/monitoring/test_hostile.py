"""The analyzer on hostile logs: a flood of distinct ERROR lines costs linear work, bounded memory.

Not timed: the tests count what the work is made of (shape-to-cluster comparisons, shapes
held, groups kept), which a quadratic or unbounded implementation would blow up.
"""

from __future__ import annotations

import random
import string

from monitoring.analysis.analyzer import LogAnalyzer
from monitoring.analysis.clusters import ShapeClusters
from monitoring.analysis.evidence import OVERFLOW_SIGNATURE
from monitoring.analysis.templates import TemplateMiner
from monitoring.parsing.parser import parse_lines


def distinct_errors(count: int, seed: int = 3) -> list[str]:
    """``count`` ERROR lines whose messages differ even after masking (random words)."""
    rnd = random.Random(seed)
    lines = []
    for i in range(count):
        words = [
            "".join(rnd.choices(string.ascii_lowercase, k=rnd.randint(3, 9)))
            for _ in range(rnd.randint(2, 8))
        ]
        message = "request failed: " + " ".join(words) + f" id={rnd.getrandbits(32)}"
        lines.append(f"2026-11-21 18:00:{i % 60:02d},000 - app.api - ERROR - {message}")
    return lines


def test_each_new_shape_is_compared_with_a_bounded_number_of_clusters() -> None:
    miner = TemplateMiner()
    for line in distinct_errors(4_000):
        miner.add(line.split(" - ERROR - ", 1)[1])
    bucket = ShapeClusters().bucket_size
    assert miner.cluster_count >= 3_900  # nearly every line is a new shape
    # linear: at most one bucket of clusters per new shape (quadratic would be ~n^2/buckets)
    assert miner.comparisons <= bucket * miner.cluster_count


def test_a_window_keeps_a_bounded_number_of_groups_and_counts_the_rest() -> None:
    lines = distinct_errors(2_000)
    analyzer = LogAnalyzer(max_groups_per_window=300)
    anomalies = analyzer.analyze(parse_lines(lines))
    assert len(anomalies) <= 301  # 300 groups and the overflow
    (overflow,) = [a for a in anomalies if a.template == OVERFLOW_SIGNATURE[0]]
    assert overflow.kind == "repeated_error" and overflow.count == 2_000 - 300
    assert sum(a.count for a in anomalies) == 2_000
    # the next window starts with room again (no overflow), every line counted once
    again = analyzer.analyze(parse_lines(distinct_errors(100, seed=4)))
    assert sum(a.count for a in again) == 100
    assert all(a.template != OVERFLOW_SIGNATURE[0] for a in again)


def test_the_miner_overflows_into_one_id_when_its_table_is_full() -> None:
    miner = TemplateMiner(max_shapes=500)
    ids = {miner.cluster_id(line.split(" - ERROR - ", 1)[1]) for line in distinct_errors(800)}
    assert miner.cluster_count == 500 and -1 in ids
    assert miner.comparisons <= ShapeClusters().bucket_size * 500
