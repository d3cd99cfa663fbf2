"""A quick version of the eval gate's power benchmark (tests/benchmarks/test_eval_power.py):
5 seeded trials of each candidate kind instead of 20, same criteria scaled (at most one miss)."""

from __future__ import annotations

from tests.benchmarks.test_eval_power import check, run_trials


def test_power_and_false_alarms_quick() -> None:
    check(run_trials(5), 5)
