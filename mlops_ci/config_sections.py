"""The sections of ``mlops-ci.yaml``: one pydantic model per area (models, scan, signing, ...).

``mlops_ci.config`` assembles them into :class:`~mlops_ci.config.Config` and re-exports them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from mlops_ci.eval.settings import EvalSettings
from mlops_ci.findings import Severity


def _parse_severity(value: Any) -> Any:
    if isinstance(value, str):
        return Severity.parse(value)
    return value


SeverityField = Annotated[Severity, BeforeValidator(_parse_severity)]


def _allow_pattern(value: str) -> str:
    from mlops_ci.scan.pickles import check_allow_pattern

    return check_allow_pattern(value)


PickleAllowPattern = Annotated[str, AfterValidator(_allow_pattern)]


class StrictModel(BaseModel):
    """A configuration section: unknown keys are errors, values are immutable."""

    # Not-a-number compares false with everything and infinity is no limit: either would make a
    # budget or threshold pass silently, so every number in the configuration is finite.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


MAX_DIM = 1 << 24  # one dimension of a synthesised input; the total is capped in bench/inputs.py
MAX_RANK = 16
MAX_THREADS = 1024
DimSize = Annotated[int, Field(strict=True, ge=1, le=MAX_DIM)]  # strict: `true` is not 1
DimName = Annotated[str, Field(min_length=1, max_length=200)]


class InputSpec(StrictModel):
    """How to synthesise one model input for benchmarking."""

    shape: list[DimSize | DimName] = Field(
        max_length=MAX_RANK,
        description="dimensions: integers from 1, or names of dynamic dims",
    )
    dtype: str = "float32"


BenchStatistic = Literal["p50_ms", "p90_ms", "p95_ms", "p99_ms", "mean_ms", "max_ms"]


class BenchSettings(StrictModel):
    """Benchmark settings of one model (the ``bench`` check and ``mlops-ci bench``)."""

    inputs: dict[str, InputSpec] = Field(
        default_factory=dict, description="a mapping of input name to {shape, dtype}"
    )
    dims: dict[str, DimSize] = Field(
        default_factory=dict, description="a mapping of dimension name to integer"
    )
    npz: str | None = Field(
        default=None, description="a path to an .npz file of real inputs, one array per input"
    )
    provider: Literal["cpu", "cuda", "tensorrt", "auto"] = Field(
        default="auto", description="one of cpu, cuda, tensorrt, auto (TensorRT, CUDA, then CPU)"
    )
    baseline: str | None = Field(
        default=None,
        description="an .onnx file, a stored results .json file, or a git ref such as origin/main",
    )
    budget_s: float = Field(
        default=20.0, gt=0, le=3600, description="a number of seconds of benchmarking at most"
    )
    margin_pct: float = Field(
        default=5.0, ge=0, lt=100, description="a number: the regression tolerated, in percent"
    )
    confidence: float = Field(
        default=0.95, gt=0.5, lt=1, description="a number: the confidence level of intervals"
    )
    inconclusive_severity: SeverityField = Field(
        default=Severity.MEDIUM,
        description="one of info, low, medium, high, critical: BENCH-INCONCLUSIVE's severity",
    )
    budgets: dict[BenchStatistic, Annotated[float, Field(gt=0)]] = Field(
        default_factory=dict,
        description="a mapping of statistic (p50_ms, p90_ms, p95_ms, p99_ms, mean_ms, max_ms)"
        " to its upper limit in milliseconds",
    )
    graph_optimization: Literal["disabled", "basic", "extended", "all"] = "all"
    intra_op_threads: int = Field(
        default=1,
        ge=0,
        le=MAX_THREADS,
        description="an integer: intra-op threads (0: onnxruntime's default)",
    )
    inter_op_threads: int = Field(
        default=1,
        ge=0,
        le=MAX_THREADS,
        description="an integer: inter-op threads (0: onnxruntime's default)",
    )
    device_id: int = Field(default=0, ge=0, le=1023, description="an integer: the GPU to run on")
    seed: int = Field(
        default=0, ge=0, le=2**63 - 1, description="an integer: seed of synthetic inputs"
    )
    results: str | None = Field(
        default=None,
        description="a path for the JSON results file (default .mlops-ci/bench/MODEL.json)",
    )


class ModelConfig(StrictModel):
    """One model under the gates."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="a model name")
    path: str = Field(description="a path to an .onnx file or a directory of model files")
    card: str | None = Field(default=None, description="a path to the model card (Markdown)")
    bench: BenchSettings = Field(default_factory=BenchSettings)
    eval: EvalSettings | None = Field(
        default=None, description="the eval gate: data, label, features, baseline, gates"
    )


class ScanConfig(StrictModel):
    """What the scanners read (``deps``, ``sast`` and ``artifacts`` checks)."""

    requirements: list[str] = Field(
        default_factory=list,
        description="a list of requirements files (or pyproject.toml) to audit",
    )
    source: list[str] = Field(default_factory=list, description="a list of source paths for bandit")
    vuln_db: str | None = Field(
        default=None, description="a path to OSV records (a directory or a zip) for offline scans"
    )
    environment: bool = Field(
        default=False, description="true to also audit the packages installed in this environment"
    )
    service: Literal["pypi", "osv"] = Field(
        default="pypi", description="one of pypi, osv: pip-audit's online service"
    )
    online_cache_ttl: int = Field(
        default=900,
        ge=0,
        le=86_400,
        description="seconds an online audit's result may be reused by the result cache (0:"
        " never); advisories appear by the hour, so keep it short",
    )
    unaudited_severity: SeverityField = Field(
        default=Severity.HIGH,
        description="one of info, low, medium, high, critical: for DEP-UNAUDITED findings",
    )
    unknown_severity: SeverityField = Field(
        default=Severity.HIGH,
        description="one of info, low, medium, high, critical: for advisories without a severity",
    )
    pickle_allow: list[PickleAllowPattern] = Field(
        default_factory=list,
        description="a list of pickle globals to allow: 'module.name', or 'package.*' for every"
        " plain global of a package and its submodules (never a dangerous one)",
    )


class CardsConfig(StrictModel):
    """Rules for model cards."""

    required_sections: dict[str, list[str]] | None = Field(
        default=None,
        description="a mapping of risk level to the Markdown sections a card must have",
    )


class GitHubClaims(StrictModel):
    """GitHub Actions claims a keyless signing certificate must carry (sigstore policies)."""

    repository: str | None = Field(default=None, description="a repository, as 'owner/name'")
    ref: str | None = Field(default=None, description="a git ref, e.g. 'refs/heads/main'")
    workflow: str | None = Field(default=None, description="a workflow name")


class SigningConfig(StrictModel):
    """How artifacts are signed, and the identity policy they are verified against.

    Secrets are never values in this file: the private key is a path, or the *name* of an
    environment variable that holds the PEM; its passphrase is always read from an environment
    variable.
    """

    mode: Literal["auto", "sigstore", "key", "certificate", "none"] = "auto"
    key: str | None = Field(default=None, description="a path to an EC P-256 PEM private key")
    key_env: str = Field(
        default="MLOPS_CI_SIGNING_KEY",
        description="a name of the environment variable that may hold the PEM private key",
    )
    key_password_env: str = Field(
        default="MLOPS_CI_SIGNING_KEY_PASSWORD",
        description="a name of the environment variable that may hold the key's passphrase",
    )
    certificate: str | None = Field(
        default=None, description="a path to the PEM signing certificate (certificate mode)"
    )
    chain: list[str] = Field(
        default_factory=list, description="a list of PEM files of intermediate certificates"
    )
    public_key: str | None = Field(
        default=None, description="a path to the PEM public key that verifies key-mode signatures"
    )
    ca: list[str] = Field(
        default_factory=list, description="a list of PEM files of trusted CA root certificates"
    )
    identity: str | None = Field(
        default=None, description="a certificate identity (email or URI) for keyless signatures"
    )
    issuer: str | None = Field(default=None, description="an OIDC issuer URL")
    github: GitHubClaims = Field(default_factory=GitHubClaims)
    staging: bool = Field(default=False, description="true or false: Sigstore staging instance")
    trust_config: str | None = Field(
        default=None, description="a path to a sigstore ClientTrustConfig JSON"
    )
    allow_unsigned: bool = Field(
        default=False, description="true or false: signing may be skipped when no key exists"
    )
    ignore: list[str] = Field(
        default_factory=list, description="a list of paths inside model directories not signed"
    )
    report: str | None = Field(
        default="reports/mlops-ci.json",
        description="a path to the JSON gate report to sign and attest",
    )
    sbom: str | None = Field(
        default=None,
        description="a path template of the SBOM to sign ({name}: model name, {path}: model path)",
    )


class ForgeConfig(StrictModel):
    """Which forge receives promotion pull/merge requests."""

    kind: Literal["auto", "github", "gitlab", "none"] = "auto"
    repository: str | None = Field(
        default=None, description="a repository path like owner/name or group/project"
    )
    api_url: str | None = Field(default=None, description="a forge API base URL")


class AuthorConfig(StrictModel):
    """Who promotion commits are authored by."""

    name: str
    email: str


class PromotionConfig(StrictModel):
    """How ``mlops-ci promote`` changes the repository."""

    policies: dict[str, list[str]] = Field(
        default_factory=dict,
        description="a mapping of environment to the policy packs a promotion into it must pass",
    )
    default_branch: str | None = None
    remote: str = "origin"
    labels: list[str] = Field(default_factory=lambda: ["mlops-ci", "promotion"])
    reviewers: list[str] = Field(default_factory=list)
    author: AuthorConfig | None = None
    push_retries: int = Field(default=5, ge=1, le=20)
    tags: bool = False


class PolicyConfig(StrictModel):
    """Limits on policy rules (the CEL cost budget; see docs/architecture.md)."""

    max_cost: int = Field(
        default=10_000_000,
        ge=1,
        le=1_000_000_000,
        description="an integer: the estimated cost above which a rule is not evaluated"
        " (POLICY-BUDGET); one unit is ~50 ns",
    )
    timeout_s: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="a number of seconds a rule whose cost cannot be bounded statically may run",
    )


PRE_PUSH_CHECKS = ("card", "onnx-model", "artifacts", "policy")


class HookConfig(StrictModel):
    """What the pre-push hook (``mlops-ci hook run``, the pre-commit hook) runs, offline."""

    checks: list[str] | None = Field(
        default=None,
        description="a list of checks to run before a push (default: card, onnx-model,"
        " artifacts, policy); add bench to benchmark too",
    )


class SbomConfig(StrictModel):
    """Where the CycloneDX SBOM of each model goes, and what its software part is made from."""

    output_dir: str = Field(
        default=".mlops-ci/sbom", description="a directory for <model>.cdx.json files"
    )
    source: Literal["auto", "requirements", "environment"] = Field(
        default="auto",
        description="one of auto, requirements, environment: auto reads the requirements files"
        " when there are any, else the Python environment",
    )
    requirements: list[str] | None = Field(
        default=None, description="a list of requirements files (default: scan.requirements)"
    )
    python: str | None = Field(
        default=None,
        description="a Python interpreter or virtualenv to inventory (default: the one running"
        " mlops-ci)",
    )
    gitlab: bool = Field(
        default=False, description="true to name files gl-sbom-<model>.cdx.json for GitLab"
    )
