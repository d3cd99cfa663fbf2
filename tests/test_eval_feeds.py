"""FeedCache: whatever sequence of tables comes, the matrix equals the one stacked afresh, and
an array changed in place is never taken for the same column (issue 16)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_ci.eval.feeds import FeedCache, freeze

COLUMNS = ("a", "b", "c", "d", "e")


def _stack(features: dict[str, np.ndarray]) -> np.ndarray:
    stacked = np.stack([features[c] for c in COLUMNS])
    return np.ascontiguousarray(stacked.astype("float32", copy=False).T)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.lists(
        st.tuples(st.sampled_from(COLUMNS), st.sampled_from(["new", "frozen", "mutate", "same"])),
        max_size=12,
    ),
)
def test_any_sequence_gives_the_stacked_matrix(seed: int, steps: list[tuple[str, str]]) -> None:
    rng = np.random.default_rng(seed)
    table = {c: freeze(rng.normal(size=7)) for c in COLUMNS}
    cache = FeedCache()
    for column, action in [("a", "same"), *steps]:
        if action == "new":
            table[column] = rng.normal(size=7)
        elif action == "frozen":
            table[column] = freeze(rng.normal(size=7))
        elif action == "mutate" and table[column].flags.writeable:
            table[column][:] = rng.normal(size=7)  # the same array, other values
        got = cache.matrix("x", COLUMNS, table, lambda: _stack(table))
        assert np.array_equal(got, _stack(table))


def test_the_importance_pattern_patches_instead_of_stacking() -> None:
    rng = np.random.default_rng(0)
    shared = {c: freeze(rng.normal(size=50)) for c in COLUMNS}
    cache = FeedCache()
    builds = []

    def build(table: dict[str, np.ndarray]) -> np.ndarray:
        builds.append(1)
        return _stack(table)

    for column in COLUMNS:
        table = {**shared, column: rng.permutation(shared[column])}
        got = cache.matrix("x", COLUMNS, table, lambda t=table: build(t))  # type: ignore[misc]
        assert np.array_equal(got, _stack(table))
    assert len(builds) == 1  # the first call; every later one patched two columns
