"""The catalog of rule IDs: stable names, what each checks, how to fix it, and its CWE.

Rule IDs are a contract with users' waivers, SARIF history and CI scripts: never rename one.
Families (``DEP-*``, ``SAST-*``) cover IDs made from an upstream identifier. ``docs/rules.md`` is
generated from this table (``mlops-ci rules --format markdown``) and a test keeps it current.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlops_ci.findings import Severity


@dataclass(frozen=True)
class Rule:
    """A documented rule: what it checks, its default severity, and the fix."""

    id: str
    check: str
    title: str
    description: str
    remediation: str
    severity: Severity
    cwe: int | None = None
    #: GitLab Code Quality category; None means the default of the rule's check (see category()).
    category: str | None = None


_CATALOG: tuple[Rule, ...] = (
    Rule(
        "CARD001",
        "card",
        "Model card missing",
        "The model has no card configured, or the configured card file does not exist.",
        "Create the card with 'mlops-ci card init PATH' and set 'card:' for the model.",
        Severity.HIGH,
    ),
    Rule(
        "CARD002",
        "card",
        "Model card has no front matter",
        "The card does not start with a YAML front matter block delimited by '---' lines.",
        "Start the card with '---', the YAML metadata, and a closing '---' line.",
        Severity.HIGH,
    ),
    Rule(
        "CARD003",
        "card",
        "Invalid value in the model card",
        "A front-matter field has the wrong type or an invalid value (e.g. risk_level not one of"
        " minimal, limited, high, unacceptable; a date that is not YYYY-MM-DD).",
        "Correct the value at the reported line; 'mlops-ci schema card' lists every field.",
        Severity.HIGH,
    ),
    Rule(
        "CARD004",
        "card",
        "Unknown key in the governance block",
        "The 'governance' block accepts only the documented keys, so typos cannot hide a field.",
        "Rename the key as the hint suggests, or remove it; 'mlops-ci schema card' lists the keys.",
        Severity.HIGH,
    ),
    Rule(
        "CARD005",
        "card",
        "Required card field missing",
        "A required key is missing, e.g. governance.owners, or an owner's contact.",
        "Add the key at the reported place.",
        Severity.HIGH,
    ),
    Rule(
        "CARD006",
        "card",
        "No governance block",
        "The card has only Hugging Face metadata: owners, risk level and lineage are not recorded.",
        "Add a 'governance' block (see templates/model_card.md, or run 'mlops-ci card init').",
        Severity.INFO,
    ),
    Rule(
        "CARD007",
        "card",
        "Section required by the risk level missing",
        "Cards of a given risk level must contain certain Markdown sections (by default 'high'"
        " requires Intended use, Limitations, Ethical considerations and Evaluation).",
        "Add the section as a Markdown heading, or change 'cards.required_sections' in mlops-ci.yaml.",
        Severity.HIGH,
    ),
    Rule(
        "CARD008",
        "card",
        "Unacceptable risk level",
        "The card classifies the model as 'unacceptable' risk: a prohibited practice under the EU AI Act.",
        "Do not ship the model; reassess its purpose and the risk classification.",
        Severity.CRITICAL,
        category="Compatibility",  # with the law (EU AI Act), not a documentation slip
    ),
    Rule(
        "WAIVER-EXPIRED",
        "waivers",
        "Waiver expired",
        "A waiver's 'expires' date has passed: it no longer suppresses anything.",
        "Fix the waived findings, or renew the waiver with its owner and a new date.",
        Severity.HIGH,
    ),
    Rule(
        "WAIVER-UNUSED",
        "waivers",
        "Waiver matches nothing",
        "A waiver matched no finding of a check that ran, often a typo in its rule id or model.",
        "Correct the rule id (see the hint) or model, or delete the waiver.",
        Severity.LOW,
    ),
    Rule(
        "POLICY-BUDGET",
        "policy",
        "Policy rule over its cost budget",
        "A policy rule's estimated evaluation cost over the facts exceeds 'policy.max_cost', or"
        " its guarded evaluation ran past 'policy.timeout_s' or its memory cap. The rule is not"
        " evaluated to the end, so it gives no evidence and blocks.",
        "Simplify the rule named in the message: fewer nested comprehensions (all, exists, map,"
        " filter), smaller literal lists; or raise 'policy.max_cost' after review.",
        Severity.CRITICAL,
        cwe=400,
        category="Complexity",
    ),
)

# ONNX, SIG, BENCH and DEP rules: after the promotion rules and before the artifact rules.
_CATALOG_REST: tuple[Rule, ...] = (
    Rule(
        "ONNX001",
        "onnx-model",
        "Model file is not loadable ONNX",
        "A configured model file is missing or is not a parsable ONNX protobuf.",
        "Point 'path:' at a real .onnx file; re-export the model if the file is corrupt.",
        Severity.HIGH,
    ),
    Rule(
        "ONNX002",
        "onnx-model",
        "ONNX model fails the checker",
        "onnx.checker.check_model(full_check=True) rejects the model (bad graph, types or shapes).",
        "Fix the export (opset, shapes, initialisers) until onnx.checker accepts the model.",
        Severity.HIGH,
    ),
    Rule(
        "ONNX003",
        "onnx-model",
        "No ONNX file in the model path",
        "The model path is a directory with no .onnx file in it.",
        "Add the exported .onnx file, or point 'path:' at the file itself.",
        Severity.HIGH,
    ),
    Rule(
        "SIG001",
        "signature",
        "Model signature does not verify",
        "The model has a signature (PATH.sig) that fails verification under the configured"
        " policy: a file changed, was added or removed, or the signer is not the trusted key,"
        " certificate chain or identity.",
        "Find out why the model differs from what was signed; if the change is intended, run"
        " the gates again and re-sign with 'mlops-ci sign'.",
        Severity.HIGH,
        345,
    ),
    Rule(
        "SIG002",
        "signature",
        "Signature cannot be verified: no trust policy",
        "The model has a signature but the configuration does not say whom to trust for its"
        " mode (signing.public_key, signing.ca, or signing.identity and signing.issuer).",
        "Set the public key, CA roots or expected identity and issuer under 'signing:'.",
        Severity.HIGH,
        347,
    ),
    Rule(
        "SIG003",
        "signature",
        "Gate-report attestation does not verify",
        "The attestation beside the model signature fails verification, or is about another"
        " model digest (the model changed after its gates ran).",
        "Run 'mlops-ci check --format json=reports/mlops-ci.json' and 'mlops-ci sign' again.",
        Severity.HIGH,
        345,
    ),
    Rule(
        "SIG004",
        "signature",
        "Model data cannot be covered by a signature",
        "An ONNX model keeps tensor data in an external file that a signature cannot cover: the"
        " location is absolute, climbs out with '..', goes through a symlink, names a missing"
        " file, a directory, FIFO or device, or one of mlops-ci's own evidence files. Such a"
        " model is never signed, and its signature never verifies.",
        "Save external data as regular files beside the .onnx with a relative location"
        " (onnx.save_model(..., save_as_external_data=True, location='model.onnx.data')),"
        " then sign the model again.",
        Severity.HIGH,
        345,
    ),
    Rule(
        "SIG005",
        "signature",
        "Signature is about an older model",
        "The model's signature (or its attestation) is authentic, made by the trusted signer,"
        " but about other bytes than the model now on disk: the model was retrained or changed"
        " after it was signed. The model counts as unsigned (facts.signature.signed: false,"
        " facts.signature.stale_digest); this note never fails a gate, but 'verify', 'promote'"
        " and the production pack still refuse the model until it is signed again.",
        "Run the gates ('mlops-ci check --format json=reports/mlops-ci.json'), then"
        " 'mlops-ci sign': check, then sign, on every release.",
        Severity.INFO,
        345,
    ),
    Rule(
        "BENCH-LOAD",
        "bench",
        "onnxruntime cannot load the model",
        "onnxruntime refused to create an inference session for the model (corrupt file,"
        " unsupported operator or opset, missing external data), so its latency is unknown.",
        "Run 'mlops-ci bench MODEL' locally to see onnxruntime's message; re-export the model with"
        " an opset and operators this onnxruntime supports.",
        Severity.HIGH,
        category="Bug Risk",  # the model cannot run: no latency to judge
    ),
    Rule(
        "BENCH-REGRESSION",
        "bench",
        "Latency regression against the baseline",
        "Measured in the same run, interleaved in randomised blocks, the candidate's median"
        " latency over the baseline's exceeds 1 + margin over the whole confidence interval.",
        "Profile the change (onnxruntime's profiler, or 'mlops-ci bench MODEL --baseline REF'),"
        " or raise bench.margin_pct when the slowdown is accepted.",
        Severity.HIGH,
    ),
    Rule(
        "BENCH-BUDGET",
        "bench",
        "Latency over its absolute budget",
        "A latency statistic (p50, p90, p95, p99, mean or max, in milliseconds) is above the"
        " budget set in bench.budgets of mlops-ci.yaml or in the model card.",
        "Make the model faster (quantise, prune, fuse, a GPU provider), or change the budget"
        " where the new latency is acceptable.",
        Severity.HIGH,
    ),
    Rule(
        "BENCH-INCONCLUSIVE",
        "bench",
        "The benchmark cannot tell whether latency regressed",
        "The confidence interval of the candidate/baseline latency ratio straddles 1 + the"
        " margin when the time budget ends: the machine is too noisy or the budget too short"
        " to decide. Severity: bench.inconclusive_severity.",
        "Re-run on a quieter runner or with a longer bench.budget_s, or accept the risk with a"
        " waiver that expires.",
        Severity.MEDIUM,
    ),
)

_CATALOG_REST += (
    Rule(
        "DEP-UNAUDITED",
        "deps",
        "Dependency could not be audited",
        "A dependency was not checked for known vulnerabilities: it is not pinned to one version,"
        " is editable or a URL, was skipped by pip-audit, or the vulnerability service or"
        " database could not answer. Severity is 'scan.unaudited_severity' (default high).",
        "Pin it with '==' in the requirements file, or give an offline database with --vuln-db"
        " or 'scan.vuln_db', or restore network access to the vulnerability service.",
        Severity.HIGH,
        1104,
    ),
)

_FAMILIES: tuple[Rule, ...] = (
    Rule(
        "DEP-*",
        "deps",
        "Known vulnerability in a dependency",
        "A pinned dependency is affected by the advisory named after 'DEP-' (an OSV id such as"
        " PYSEC-2018-28 or GHSA-...), as reported by pip-audit. Severity comes from the"
        " advisory's CVSS vector or database label, else 'scan.unknown_severity' (default high).",
        "Upgrade to a fixed version named in the message, or waive the finding until a date"
        " with a reason.",
        Severity.HIGH,
        1395,
    ),
    Rule(
        "SAST-*",
        "sast",
        "bandit finding",
        "bandit reported the test named after 'SAST-' (e.g. SAST-B602, subprocess with"
        " shell=True); the message gives bandit's text, confidence and CWE.",
        "Fix the code as bandit's documentation for the test explains, or mark a reviewed line"
        " with '# nosec BXXX' and a reason.",
        Severity.MEDIUM,
    ),
)


def _catalog() -> tuple[Rule, ...]:
    # Subsystems with their own package keep their rules beside their code.
    from mlops_ci.eval.rules import EVAL_RULES
    from mlops_ci.promote.rules import PROMOTE_RULES
    from mlops_ci.scan.rules import ARTIFACT_RULES

    return _CATALOG + PROMOTE_RULES + _CATALOG_REST + ARTIFACT_RULES + EVAL_RULES


RULES: dict[str, Rule] = {rule.id: rule for rule in _catalog()}


def describe(rule_id: str) -> Rule | None:
    """The rule for ``rule_id``: an exact entry, or the family its prefix belongs to."""
    if rule_id in RULES:
        return RULES[rule_id]
    for family in _FAMILIES:
        if rule_id.startswith(family.id.rstrip("*")):
            return family
    return None


#: GitLab Code Quality's categories (the Code Climate issue spec), the only values it accepts.
CATEGORIES = (
    "Bug Risk",
    "Clarity",
    "Compatibility",
    "Complexity",
    "Duplication",
    "Performance",
    "Security",
    "Style",
)
# What a finding of each check is about, unless its rule says otherwise: a card is documentation,
# a policy pack judges whether the model may run where it is going, a model that fails to load or
# to score as well as before is a bug risk; only the supply-chain checks are security.
_CHECK_CATEGORIES: dict[str, str] = {
    "card": "Clarity",
    "waivers": "Clarity",
    "policy": "Compatibility",
    "onnx-model": "Bug Risk",
    "eval": "Bug Risk",
    "bench": "Performance",
    "deps": "Security",
    "sast": "Security",
    "artifacts": "Security",
    "signature": "Security",
    "promote-verify": "Security",
}


def category(rule_id: str, check: str | None = None) -> str:
    """The Code Quality category of ``rule_id``: the rule's own, else its check's (``check``, the
    check that reported it, for rules defined at run time such as policy pack rules)."""
    rule = describe(rule_id)
    if rule is not None and rule.category is not None:
        return rule.category
    family = rule.check if rule is not None else (check or "")
    return _CHECK_CATEGORIES.get(family, "Bug Risk")


def all_rules() -> tuple[Rule, ...]:
    """Every documented rule and family, in catalog order."""
    return _catalog() + _FAMILIES


def rules_markdown() -> str:
    """The rule reference as Markdown (the content of ``docs/rules.md``), shipped packs included."""
    from mlops_ci.policy.pack import load_pack, shipped_pack_names

    lines = [
        "# Rules",
        "",
        "Every finding carries one of these stable rule IDs. Generated by `mlops-ci rules`;",
        "do not edit by hand.",
        "",
    ]
    for rule in all_rules():
        cwe = f" · CWE-{rule.cwe}" if rule.cwe is not None else ""
        lines += [
            f"## `{rule.id}`: {rule.title}",
            "",
            f"Check `{rule.check}` · default severity **{rule.severity.label}**{cwe}"
            f" · category {category(rule.id)}",
            "",
            f"- **What it checks:** {rule.description}",
            f"- **How to fix:** {rule.remediation}",
            "",
        ]
    lines += ["# Rules of the shipped policy packs", ""]
    for name in shipped_pack_names():
        pack = load_pack(name, Path())
        lines += [f"## Pack `{pack.name}` {pack.version}", "", pack.description, ""]
        lines += ["| Rule | Severity | What it checks | How to fix |", "| --- | --- | --- | --- |"]
        lines += [
            f"| `{r.id}` | {r.severity.label} | {r.description} | {r.remediation} |"
            for r in pack.rules
        ]
        lines.append("")
    return "\n".join(lines)
