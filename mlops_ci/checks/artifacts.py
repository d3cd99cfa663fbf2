"""The ``artifacts`` check: scan every file under the model path without loading any of it.

Rules: ``ART-PICKLE-UNSAFE`` (critical; a pickle imports a known-dangerous global),
``ART-PICKLE-UNKNOWN`` (high; a global outside the allowlist and ``scan.pickle_allow``),
``ART-PICKLE-UNDECODABLE`` (critical; a pickle, or bytes a loader would read as one, that cannot
be fully decoded, or a container past a bound), ``ART-ONNX-EXTERNAL-ESCAPE`` (high; external data
outside the model directory), ``ART-ONNX-EXTERNAL-INVALID`` (high; external data missing, or not a
regular file),
``ART-ONNX-CUSTOM-OP`` (info; a non-standard operator domain), ``ART-SYMLINK-ESCAPE`` (high; a
symlink under the model path pointing outside it). Fingerprints are the rule, the model, the file
and the archive member or tensor: never a line or an offset.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from mlops_ci.checks.base import Context, Scope, model_inputs, result, skipped
from mlops_ci.findings import CheckResult, Finding, JsonValue, Location, Severity
from mlops_ci.scan.model_files import ModelFilesScan, scan_model_paths
from mlops_ci.scan.pickles import PicklePolicy


class ArtifactsCheck:
    """Pickle allowlist, ONNX external data and custom ops, escaping symlinks."""

    name: ClassVar[str] = "artifacts"
    needs: ClassVar[tuple[str, ...]] = ()
    scope: ClassVar[Scope] = "model"

    def inputs(self, ctx: Context) -> list[Path]:
        """The files under the model path (symlinks are keyed by where they point)."""
        return model_inputs(ctx)

    def cache_material(self, ctx: Context) -> dict[str, Any]:
        """The pickle allowlist changes verdicts on the same files."""
        return {"pickle_allow": list(ctx.config.scan.pickle_allow)}

    def run(self, ctx: Context) -> CheckResult:
        """Scan the files of ``ctx.model``."""
        model = ctx.current_model
        model_path = ctx.loaded.resolve(model.path)
        if not model_path.exists() and not model_path.is_symlink():
            return skipped(ctx, self.name, f"model path {ctx.display(model_path)} does not exist")
        policy = PicklePolicy(tuple(ctx.config.scan.pickle_allow))
        # A single-file model is scanned with the files beside it (its external data, and
        # anything a loader given that directory could pick up), as its cache key is.
        scan = scan_model_paths(model_inputs(ctx) if model_path.is_file() else [model_path], policy)
        findings = _pickle_findings(ctx, scan) + _onnx_findings(ctx, scan)
        for link in scan.symlinks:
            # Resolving the link itself would name its target: show where the link lives.
            shown = f"{ctx.display(link.path.parent)}/{link.path.name}"
            findings.append(
                ctx.finding(
                    "ART-SYMLINK-ESCAPE",
                    Severity.HIGH,
                    f"{shown} is a symlink to {link.target!r}, outside the model path; it was not"
                    " followed: replace it with the file itself",
                    Location(shown),
                    link.target,
                )
            )
        onnx_facts: list[JsonValue] = [
            {
                "path": ctx.display(path),
                "opset": info.opset,
                "size_bytes": info.size_bytes,
                "external_bytes": info.external_bytes,
                "external_tensors": info.external_tensors,
                "custom_domains": [domain for domain, _ in info.custom_domains],
            }
            for path, info in scan.onnx
        ]
        facts: dict[str, JsonValue] = {
            "unsafe": sum(1 for f in findings if f.rule_id == "ART-PICKLE-UNSAFE"),
            "unknown": sum(1 for f in findings if f.rule_id == "ART-PICKLE-UNKNOWN"),
            "undecodable": sum(1 for f in findings if f.rule_id == "ART-PICKLE-UNDECODABLE"),
            "files": scan.files,
            "pickles": scan.pickles,
            "external_escapes": sum(1 for f in findings if f.rule_id == "ART-ONNX-EXTERNAL-ESCAPE"),
            "symlink_escapes": len(scan.symlinks),
            "onnx": onnx_facts,
        }
        metrics = {"files": float(scan.files), "pickles": float(scan.pickles)}
        return result(ctx, self.name, findings, metrics=metrics, facts=facts)


def _pickle_findings(ctx: Context, scan: ModelFilesScan) -> list[Finding]:
    findings = []
    for item in scan.pickle_findings:
        shown = ctx.display(item.path)
        where = f"{shown}!{_printable(item.member)}" if item.member else shown
        found = item.scan
        if found.unsafe:
            findings.append(
                ctx.finding(
                    "ART-PICKLE-UNSAFE",
                    Severity.CRITICAL,
                    f"{where} imports {_listed(found.unsafe)} when unpickled, which can run"
                    " arbitrary code; do not load it: re-export the model as ONNX or safetensors",
                    Location(shown),
                    item.member or "",
                )
            )
        if found.unknown:
            findings.append(
                ctx.finding(
                    "ART-PICKLE-UNKNOWN",
                    Severity.HIGH,
                    f"{where} imports globals outside the allowlist when unpickled:"
                    f" {_listed(found.unknown)}; loading it would import and run them: review"
                    " them and allow them in scan.pickle_allow, or re-export the model as ONNX"
                    " or safetensors",
                    Location(shown),
                    item.member or "",
                )
            )
        if found.error:
            findings.append(
                ctx.finding(
                    "ART-PICKLE-UNDECODABLE",
                    Severity.CRITICAL,
                    f"{where} cannot be fully decoded as a pickle ({found.error}), so what"
                    " loading it runs is unknown; do not load it: re-export the model as ONNX or"
                    " safetensors",
                    Location(shown),
                    item.member or "",
                )
            )
    return findings


def _onnx_findings(ctx: Context, scan: ModelFilesScan) -> list[Finding]:
    findings = []
    for path, info in scan.onnx:
        shown = ctx.display(path)
        for escape in info.escapes:
            findings.append(
                ctx.finding(
                    "ART-ONNX-EXTERNAL-ESCAPE",
                    Severity.HIGH,
                    f"{shown}: tensor {escape.tensor!r} keeps its data at {escape.location!r}"
                    f" ({escape.reason}), outside the model directory; it was not opened: store"
                    " external data beside the model with a relative path",
                    Location(shown),
                    escape.tensor,
                    escape.location,
                )
            )
        for bad in info.invalid:
            findings.append(
                ctx.finding(
                    "ART-ONNX-EXTERNAL-INVALID",
                    Severity.HIGH,
                    f"{shown}: tensor {bad.tensor[:60]!r} keeps its data at {bad.location[:120]!r}"
                    f" ({bad.reason}); it was not opened: ship the data file as a regular file"
                    " beside the model",
                    Location(shown),
                    bad.tensor,
                    bad.location,
                )
            )
        for domain, ops in info.custom_domains:
            findings.append(
                ctx.finding(
                    "ART-ONNX-CUSTOM-OP",
                    Severity.INFO,
                    f"{shown} uses operators of the custom domain {domain!r}: {', '.join(ops)};"
                    " the runtime must provide them",
                    Location(shown),
                    domain,
                )
            )
    return findings


def _printable(member: str) -> str:
    """An archive member's name as messages show it: its own bytes, escaped when they are not
    plain printable text (a name could hold newlines that forge report lines), and short."""
    if member.isprintable() and len(member) <= 200:
        return member
    return ascii(member[:120])


def _listed(names: tuple[str, ...], most: int = 12) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")
