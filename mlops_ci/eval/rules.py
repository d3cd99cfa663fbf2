"""The ``EVAL-*`` rule IDs (joined into :data:`mlops_ci.rules.RULES`). Never rename one."""

from __future__ import annotations

from mlops_ci.findings import Severity
from mlops_ci.rules import Rule

EVAL_RULES: tuple[Rule, ...] = (
    Rule(
        "EVAL-REGRESSION",
        "eval",
        "Model quality regressed against the baseline",
        "Scored on the same rows in the same run, the candidate's value of a gated metric is"
        " worse than the baseline's by more than eval.gate allows (max_drop, or max_rise for"
        " error metrics) over the whole paired-bootstrap confidence interval.",
        "Find what made the model worse ('mlops-ci eval MODEL --baseline REF' shows every"
        " metric, slice and feature importance), or change the gate with the model's owners.",
        Severity.HIGH,
    ),
    Rule(
        "EVAL-INCONCLUSIVE",
        "eval",
        "The evaluation data cannot tell whether quality regressed",
        "The confidence interval of a gated metric's difference straddles the allowed drop:"
        " the data is too small or too noisy to decide. Severity: eval.inconclusive_severity.",
        "Evaluate on more rows, or accept the risk with a waiver that expires.",
        Severity.MEDIUM,
    ),
    Rule(
        "EVAL-THRESHOLD",
        "eval",
        "A measured metric misses its absolute threshold",
        "A metric measured on the evaluation data is worse than the threshold set by the card's"
        " governance.evaluation_metrics[].threshold or by eval.thresholds.",
        "Improve the model, or revise the threshold with the model's owners.",
        Severity.HIGH,
    ),
    Rule(
        "EVAL-SLICE-REGRESSION",
        "eval",
        "Quality regressed for a group of rows",
        "For a group of a slice column with at least eval.slice_gate.min_rows rows, a gated"
        " metric dropped more than eval.slice_gate.max_drop against the baseline over the"
        " whole paired-bootstrap confidence interval, whatever the aggregate did.",
        "Look at the group's rows and the features whose importance moved; fix the data or the"
        " model for that group.",
        Severity.HIGH,
    ),
    Rule(
        "EVAL-FAIRNESS",
        "eval",
        "A fairness metric is over its limit",
        "A fairlearn metric (demographic parity, equalized odds, equal opportunity) over a"
        " sensitive column is over eval.fairness[].max (or under .min for ratios).",
        "Mitigate (fairlearn's reductions or post-processing, more representative data), or"
        " document and waive with the owners' approval.",
        Severity.HIGH,
    ),
    Rule(
        "EVAL-CLAIM-MISMATCH",
        "eval",
        "The card claims a metric the measurement contradicts",
        "The card's governance.evaluation_metrics declares a value for a metric that, measured"
        " on the evaluation data, differs by more than eval.claim_tolerance.",
        "Update the card's figure to the measured one, or name the dataset it was measured on.",
        Severity.MEDIUM,
    ),
    Rule(
        "EVAL-DATA",
        "eval",
        "The evaluation data cannot be used",
        "The evaluation data is missing, empty, unreadable, lacks a configured column, has"
        " values of the wrong type, a feature count the model does not take, or label values"
        " the model cannot produce. The run stops with exit 2, naming the file and the column.",
        "Fix the data file or the eval section (data, label, features) as the message says.",
        Severity.HIGH,
    ),
)
