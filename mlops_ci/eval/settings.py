"""The ``models[].eval`` section of ``mlops-ci.yaml`` (the ``eval`` check and ``mlops-ci eval``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from mlops_ci.findings import Severity


def _parse_severity(value: object) -> object:
    return Severity.parse(value) if isinstance(value, str) else value


class _Section(BaseModel):
    # Same rules as every configuration section: unknown keys are errors, numbers are finite.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


Task = Literal["binary", "multiclass", "regression"]
ColumnName = Annotated[str, Field(min_length=1, max_length=256)]
FairnessMetric = Literal[
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "equal_opportunity_difference",
    "equal_opportunity_ratio",
]


class MetricGate(_Section):
    """The largest tolerated change of one metric against the baseline."""

    max_drop: float | None = Field(
        default=None, ge=0, description="a number: the largest drop tolerated (higher-is-better)"
    )
    max_rise: float | None = Field(
        default=None, ge=0, description="a number: the largest rise tolerated (error metrics)"
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> MetricGate:
        if (self.max_drop is None) == (self.max_rise is None):
            raise ValueError("give exactly one of max_drop (scores) or max_rise (error metrics)")
        return self


class SliceGate(_Section):
    """When a group of a slice column blocks: it dropped more than ``max_drop``, with confidence."""

    max_drop: float = Field(default=0.03, ge=0, description="a number: the largest group drop")
    min_rows: int = Field(
        default=200, ge=1, le=1 << 40, description="an integer: smaller groups are reported only"
    )


class FairnessSpec(_Section):
    """A fairlearn metric over a sensitive column, and its limit."""

    metric: FairnessMetric
    by: ColumnName = Field(description="the sensitive column")
    max: float | None = Field(
        default=None, ge=0, description="a number: the largest value allowed (differences)"
    )
    min: float | None = Field(
        default=None, ge=0, le=1, description="a number: the smallest value allowed (ratios)"
    )

    @model_validator(mode="after")
    def _limit_fits(self) -> FairnessSpec:
        ratio = self.metric.endswith("_ratio")
        if ratio and self.max is not None:
            raise ValueError(f"{self.metric} is a ratio (1 is parity): give min, not max")
        if not ratio and self.min is not None:
            raise ValueError(f"{self.metric} is a difference (0 is parity): give max, not min")
        return self


class ImportanceSettings(_Section):
    """Permutation importance on a bounded, seeded sample of rows."""

    enabled: bool = True
    rows: int = Field(default=2000, ge=10, le=1_000_000, description="rows sampled at most")
    repeats: int = Field(default=5, ge=1, le=100, description="permutations per feature")


class EvalSettings(_Section):
    """Quality and fairness of one model measured on an evaluation set, against a baseline."""

    data: str = Field(
        description="a path to .parquet, .csv, .jsonl or .npz data, or a directory of .parquet"
    )
    label: ColumnName = Field(description="the label column")
    features: list[ColumnName] | dict[str, list[ColumnName]] = Field(
        description="columns fed to the single input, in order; or {input_name: [columns]}"
    )
    task: Task | None = Field(
        default=None, description="one of binary, multiclass, regression (inferred when omitted)"
    )
    output: str | Annotated[int, Field(ge=0, le=4096)] | None = Field(
        default=None, description="the output holding scores or probabilities (name or index)"
    )
    positive_label: str | int | None = Field(
        default=None, description="the positive class of a binary task (default: the last class)"
    )
    metrics: list[str] = Field(
        default_factory=list, description="scikit-learn metric names (default: per task)"
    )
    slices: list[ColumnName] = Field(
        default_factory=list, description="columns whose groups every metric is computed for"
    )
    fairness: list[FairnessSpec] = Field(default_factory=list)
    baseline: str | None = Field(
        default=None,
        description="env:ENV, a git ref or an .onnx path (default: the next environment's model,"
        " else the default branch)",
    )
    gate: dict[str, MetricGate] = Field(
        default_factory=dict, description="a mapping of metric name to {max_drop} or {max_rise}"
    )
    slice_gate: SliceGate = Field(default_factory=SliceGate)
    thresholds: dict[str, float] = Field(
        default_factory=dict,
        description="a mapping of metric name to the value it must reach (absolute)",
    )
    claim_tolerance: float = Field(
        default=0.02,
        ge=0,
        description="a number: how far a card's claimed metric may be from the measured one",
    )
    batch_rows: int = Field(default=8192, ge=1, le=1 << 22, description="rows per batch")
    confidence: float = Field(
        default=0.95, gt=0.5, lt=1, description="a number: the confidence level of intervals"
    )
    resamples: int = Field(
        default=1000, ge=100, le=100_000, description="an integer: paired bootstrap resamples"
    )
    seed: int = Field(default=0, ge=0, le=2**63 - 1, description="an integer: the seed")
    inconclusive_severity: Annotated[Severity, BeforeValidator(_parse_severity)] = Field(
        default=Severity.MEDIUM,
        description="one of info, low, medium, high, critical: EVAL-INCONCLUSIVE's severity",
    )
    importance: ImportanceSettings = Field(default_factory=ImportanceSettings)
    provider: Literal["cpu", "cuda", "tensorrt", "auto"] = Field(
        default="cpu", description="one of cpu, cuda, tensorrt, auto"
    )

    def feature_columns(self) -> list[str]:
        """Every feature column, in input order."""
        if isinstance(self.features, list):
            return list(self.features)
        return [column for columns in self.features.values() for column in columns]
