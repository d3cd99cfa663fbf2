"""The model card schema: Hugging Face metadata plus the ``governance`` block.

The Hugging Face part is lenient (unknown keys are accepted, as on the Hub); the ``governance``
block is strict: an unknown key is an error with a "did you mean" hint. ``risk_level`` follows
the EU AI Act tiers: minimal, limited, high, unacceptable.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

RiskLevel = Literal["minimal", "limited", "high", "unacceptable"]
GOVERNANCE_KEY = "governance"


class _HubModel(BaseModel):
    """Hugging Face metadata: keys this tool does not know are kept, not refused."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class _Governance(BaseModel):
    # NaN compares false with everything and inf is no limit: a budget or threshold of either
    # would pass silently.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class HubTask(_HubModel):
    """``model-index[].results[].task``."""

    type: str
    name: str | None = None


class HubDataset(_HubModel):
    """``model-index[].results[].dataset``."""

    type: str
    name: str
    config: str | None = None
    split: str | None = None
    revision: str | None = None


class HubMetric(_HubModel):
    """``model-index[].results[].metrics[]``."""

    type: str
    value: float | int | str | None = None
    name: str | None = None
    config: str | None = None
    verified: bool | None = None


class HubResult(_HubModel):
    """One evaluation result of ``model-index``."""

    task: HubTask
    dataset: HubDataset | None = None
    metrics: list[HubMetric] = Field(default_factory=list)


class HubModelIndex(_HubModel):
    """One ``model-index`` entry."""

    name: str
    results: list[HubResult] = Field(default_factory=list)


class Owner(_Governance):
    """Someone accountable for the model."""

    name: str
    contact: str = Field(description="an e-mail address or URL to reach the owner")
    role: str | None = None


class DataSource(_Governance):
    """A training or evaluation dataset: what it is, which version, under which licence."""

    name: str
    version: str | None = None
    digest: str | None = Field(default=None, pattern=r"^[a-z0-9]+:[0-9a-fA-F]{16,}$")
    license: str | None = None
    source: str | None = None
    owners: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _versioned(self) -> DataSource:
        if self.version is None and self.digest is None:
            raise ValueError("give the dataset a 'version' or a 'digest'")
        return self


class EvaluationMetric(_Governance):
    """A measured metric, the threshold it must meet, and the dataset it was measured on."""

    name: str
    value: float
    threshold: float | None = None
    dataset: str | None = None
    higher_is_better: bool = True


class FairnessSlice(_Governance):
    """A population slice the model was evaluated on."""

    name: str
    metric: str | None = None
    value: float | None = None


class Fairness(_Governance):
    """Fairness evaluation: the slices evaluated, or an explicit statement."""

    slices: list[FairnessSlice] = Field(default_factory=list)
    statement: str | None = None

    @model_validator(mode="after")
    def _something(self) -> Fairness:
        if not self.slices and not self.statement:
            raise ValueError("list the 'slices' evaluated or give a 'statement'")
        return self


class Explainability(_Governance):
    """How predictions can be explained: a method, or a statement."""

    method: str | None = None
    statement: str | None = None

    @model_validator(mode="after")
    def _something(self) -> Explainability:
        if not self.method and not self.statement:
            raise ValueError("give the explanation 'method' or a 'statement'")
        return self


class Approval(_Governance):
    """A sign-off: who, in which role, when."""

    name: str
    role: str
    date: dt.date


class LatencyBudget(_Governance):
    """Latency the model must meet (checked against the benchmark by the production pack)."""

    p50_ms: float | None = Field(default=None, gt=0)
    p90_ms: float | None = Field(default=None, gt=0)
    p99_ms: float | None = Field(default=None, gt=0)
    batch: int | None = Field(default=None, ge=1, le=1_000_000)


class Governance(_Governance):
    """What the Hugging Face format lacks: accountability, risk, lineage, evaluation, sign-off."""

    version: str | None = None
    owners: list[Owner] = Field(default_factory=list)
    intended_use: str | None = None
    intended_users: list[str] = Field(
        default_factory=list, description="who the model is for, e.g. 'fraud analysts'"
    )
    out_of_scope_use: str | None = None
    limitations: str | None = None
    ethical_considerations: str | None = None
    risk_level: RiskLevel | None = None
    architecture: str | None = None
    training_data: list[DataSource] = Field(default_factory=list)
    evaluation_data: list[DataSource] = Field(default_factory=list)
    evaluation_metrics: list[EvaluationMetric] = Field(default_factory=list)
    fairness: Fairness | None = None
    explainability: Explainability | None = None
    approvals: list[Approval] = Field(default_factory=list)
    latency_budget: LatencyBudget | None = None


class CardMetadata(_HubModel):
    """The whole front matter."""

    license: str | list[str] | None = None
    license_name: str | None = None
    license_link: str | None = None
    language: str | list[str] | None = None
    library_name: str | None = None
    pipeline_tag: str | None = None
    tags: list[str] | str | None = None
    datasets: list[str] | str | None = None
    metrics: list[str] | str | None = None
    base_model: str | list[str] | None = None
    model_index: list[HubModelIndex] | None = Field(default=None, alias="model-index")
    governance: Governance | None = None

    @property
    def licenses(self) -> list[str]:
        """The licence identifiers as a list (the Hub allows one string or a list)."""
        if self.license is None:
            return []
        return [self.license] if isinstance(self.license, str) else list(self.license)


def card_schema() -> dict[str, Any]:
    """The JSON Schema of the front matter (``mlops-ci schema card``)."""
    schema = CardMetadata.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "mlops-ci model card front matter"
    return schema
