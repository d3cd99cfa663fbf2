"""The eval gate's inputs (issue 14): evaluation data that escapes the repository, blocks,
is truncated or is a symlink given by flag; baselines and settings that cannot be used; and the
controls (the demo passes; a model far from the data's truth is refused by its rule).

Every case runs ``mlops-ci eval fraud-detector`` (or ``check --only eval``) on the demo, whose
``eval:`` section reads ``data/fraud-eval.parquet``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from tests.corpus import Case

Setup = Callable[[Path, Path], None]
CONFIG = "mlops-ci.yaml"
DATA = "data/fraud-eval.parquet"
EVAL = ("eval", "fraud-detector")
ONLY_EVAL = ("check", "--only", "eval")


def _nothing(repo: Path, outside: Path) -> None:
    """Leave the demo as it is."""


def _data_links_outside(repo: Path, outside: Path) -> None:
    (repo / DATA).unlink()
    (repo / DATA).symlink_to(outside / "secret.txt")


def _flag_link(repo: Path, outside: Path) -> None:
    (repo / "data/link.parquet").symlink_to(outside / "secret.txt")


def _data_is_fifo(repo: Path, outside: Path) -> None:
    (repo / DATA).unlink()
    os.mkfifo(repo / DATA)


def _data_truncated(repo: Path, outside: Path) -> None:
    raw = (repo / DATA).read_bytes()
    (repo / DATA).write_bytes(raw[: len(raw) // 2])


def _config(old: str, new: str) -> Setup:
    def setup(repo: Path, outside: Path) -> None:
        path = repo / CONFIG
        text = path.read_text()
        assert old in text, old
        path.write_text(text.replace(old, new, 1))

    return setup


def _stored_results(repo: Path, outside: Path) -> None:
    (repo / "results.json").write_text("{}\n")


def _worse_model(repo: Path, outside: Path) -> None:
    from mlops_ci.demo.model import save_mlp

    save_mlp(repo / "models/fraud-detector/model.onnx", seed=7, jitter=0.5, name="fraud-detector")


CASES = [
    Case("eval-control", "cli", _nothing, EVAL, 0, reports=True),
    Case("eval-worse-model-regresses", "onnx", _worse_model, EVAL, 1, "EVAL-REGRESSION"),
    Case("eval-data-symlink-outside", "path", _data_links_outside, EVAL, 2, reports=True),
    Case("eval-data-flag-symlink-outside", "path", _flag_link, (*EVAL, "--data", "data/link.parquet"), 2),
    Case("eval-data-climbs-out", "config", _config(f"data: {DATA}", "data: ../outside/secret.txt"), ONLY_EVAL, 2),
    Case("eval-data-fifo", "path", _data_is_fifo, EVAL, 2),
    Case("eval-data-truncated", "path", _data_truncated, EVAL, 2, "EVAL-DATA"),
    Case("eval-data-missing-column", "config", _config("label: is_fraud", "label: is_frauds"), EVAL, 2, "EVAL-DATA"),
    Case("eval-unknown-metric", "config", _config("metrics: [roc_auc,", "metrics: [roc_aucc,"), EVAL, 2, "roc_auc"),
    Case("eval-gate-wrong-direction", "config", _config("roc_auc: {max_drop: 0.01}", "roc_auc: {max_rise: 0.01}"), EVAL, 2),
    Case("eval-baseline-stored-results", "cli", _stored_results, (*EVAL, "--baseline", "results.json"), 2),
    Case("eval-baseline-unknown-ref", "cli", _nothing, (*EVAL, "--baseline", "no-such-ref"), 2),
]  # fmt: skip
