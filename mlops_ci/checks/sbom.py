"""The ``sbom`` check: write each model's CycloneDX 1.6 SBOM (software + ML-BOM) and report facts.

Facts (``facts.sbom`` in policies): ``digest`` (``sha256:`` of the written document),
``components`` (every component, the model's files included), ``licenses`` (the sorted set of
licences any component declares), ``model_card`` (whether the model component has a
``modelCard``) and ``path`` (the document, relative to the repository root).

When the ``eval`` check ran for the model, its measured metrics and data set go into the ML-BOM
(:mod:`mlops_ci.sbom.evaluation`); with ``--only sbom`` or without an eval section they do not.

Cached (see :mod:`mlops_ci.cache`) when the software comes from requirements files: keyed by the
model's files, its card, the requirements files (includes followed), the git commit the document
names, ``SOURCE_DATE_EPOCH``, the output path and the tools' versions (the ``eval`` result is in
every key already). The document is kept with the result and written again on a hit, so the file
is there and byte-identical; a document the current environment's secrets would scrub differently
is not replayed.
"""

from __future__ import annotations

import hashlib
import os
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mlops_ci.checks.base import Context, Scope, card_inputs, model_inputs, result
from mlops_ci.checks.cache_keys import tool_versions
from mlops_ci.config import ModelConfig
from mlops_ci.errors import MlopsCiError, SourcePosition
from mlops_ci.findings import CheckResult, GitInfo
from mlops_ci.fsutil import atomic_write
from mlops_ci.safepath import read_bytes

if TYPE_CHECKING:
    from mlops_ci.card.schema import CardMetadata
    from mlops_ci.sbom.evaluation import MeasuredEvaluation
    from mlops_ci.sbom.software import SoftwarePart, SoftwareSource

OPTION_OUTPUT_FILE = "sbom_output_file"
OPTION_OUTPUT_DIR = "sbom_output_dir"
OPTION_GITLAB = "sbom_gitlab"


def sbom_filename(model: str, gitlab: bool) -> str:
    """``<model>.cdx.json``, or ``gl-sbom-<model>.cdx.json`` for GitLab's cyclonedx report."""
    return f"gl-sbom-{model}.cdx.json" if gitlab else f"{model}.cdx.json"


def sbom_output(ctx: Context, model: ModelConfig) -> Path:
    """Where the SBOM of ``model`` goes: the command line's choice, else ``sbom.output_dir``."""
    chosen = ctx.options.get(OPTION_OUTPUT_FILE)
    if chosen is not None:
        return Path(chosen)
    gitlab = bool(ctx.options.get(OPTION_GITLAB)) or ctx.config.sbom.gitlab
    directory = ctx.options.get(OPTION_OUTPUT_DIR)
    base = (
        Path(directory)
        if directory is not None
        else ctx.loaded.resolve(ctx.config.sbom.output_dir, "sbom.output_dir")
    )
    return base / sbom_filename(model.name, gitlab)


class SbomCheck:
    """Generates the SBOM; it has no findings of its own (policies judge its facts)."""

    name: ClassVar[str] = "sbom"
    # The measured metrics of an `eval` run go into the ML-BOM; without one (not selected,
    # skipped), the SBOM carries the card's claims only.
    needs: ClassVar[tuple[str, ...]] = ("eval",)
    scope: ClassVar[Scope] = "model"
    stampable: ClassVar[bool] = False  # the key holds the git commit and the tools' versions

    def inputs(self, ctx: Context) -> list[Path] | None:
        """The model's files, its card and the requirements files; None (not cached) for an
        environment inventory, or requirements whose bytes alone do not decide the document."""
        from mlops_ci.scan.requirements import requirement_files

        try:
            source = _software_source(ctx)
        except MlopsCiError:
            return None  # the run reports it
        if source.kind != "requirements":
            return None
        # Every model shares the requirements files: they are read for includes once per run.
        memo = f"sbom-requirement-files:{source!r}"
        with _PREPARED_LOCK:
            if memo not in ctx.shared:
                ctx.shared[memo] = requirement_files(list(source.requirements), ctx.root)
            found: list[Path] | None = ctx.shared[memo]
        if found is None:
            return None
        return [*model_inputs(ctx), *card_inputs(ctx), *found]

    def cache_material(self, ctx: Context) -> dict[str, Any]:
        """What else goes into the document: the commit and repository it names, the time,
        where it is written, and the versions of the tools that make and check it."""
        model = ctx.current_model
        if ctx.git.commit:
            # The document names the newest commit that changed its inputs: with HEAD and the
            # input files unchanged, so is that commit.
            git: Any = [ctx.git.commit, ctx.git.committed_at, ctx.git.remote_url]
        else:
            found = _inputs_commit(ctx, ctx.loaded.resolve(model.path), _software_source(ctx))
            git = [found.commit, found.committed_at, found.remote_url]
        return {
            "git": git,
            "source_date_epoch": os.environ.get("SOURCE_DATE_EPOCH"),
            "output": str(sbom_output(ctx, model)),
            "tools": tool_versions(
                "cyclonedx-bom",
                "cyclonedx-python-lib",
                "pip-requirements-parser",
                "model-signing",
                "jsonschema-rs",
            ),
        }

    def attachment(self, ctx: Context, outcome: CheckResult) -> str | None:
        """The document just written, kept with the result (None, nothing stored, when it
        cannot be read back as written)."""
        try:
            data = read_bytes(sbom_output(ctx, ctx.current_model), what="SBOM", max_bytes=_MAX)
        except (OSError, MlopsCiError):
            return None
        if "sha256:" + hashlib.sha256(data).hexdigest() != outcome.facts.get("digest"):
            return None  # another process wrote it meanwhile
        return data.decode("utf-8")

    def restore(self, ctx: Context, stored: CheckResult, document: str | None) -> bool:
        """Write the stored document again unless the file already holds it; False (the check
        runs) when it is not the document the result describes, or when this environment's
        secrets would be scrubbed from it."""
        from mlops_ci.scrub import scrub_document

        if document is None:
            return False
        data = document.encode("utf-8")
        if "sha256:" + hashlib.sha256(data).hexdigest() != stored.facts.get("digest"):
            return False
        if scrub_document(document) != document:
            return False
        output = sbom_output(ctx, ctx.current_model)
        if ctx.display(output) != stored.facts.get("path"):
            return False
        try:
            if read_bytes(output, what="SBOM", max_bytes=_MAX) == data:
                return True
        except (OSError, MlopsCiError):
            pass  # absent or unusable: written again below
        try:
            atomic_write(output, document)
        except OSError:
            return False
        return True

    def prepare(self, ctx: Context) -> None:
        """Inventory the software (cyclonedx-py, ~1.5 s) while the gates the SBOM waits for
        run; models with the same requirements share one inventory."""
        from mlops_ci.sbom.software import build_software_part

        source = _software_source(ctx)
        key = f"sbom-software:{source!r}"
        with _PREPARED_LOCK:
            if key in ctx.shared:
                return
            future: Future[SoftwarePart] = Future()
            ctx.shared[key] = future
        try:
            future.set_result(build_software_part(source, ctx.display))
        except BaseException as exc:
            future.set_exception(exc)

    def run(self, ctx: Context) -> CheckResult:
        """Write the SBOM of ``ctx.model`` and report where, its digest and its contents."""
        from mlops_ci.sbom.evaluation import measured_evaluation
        from mlops_ci.sbom.generate import ModelSbomRequest, generate_model_sbom

        model = ctx.current_model
        source = _software_source(ctx)
        card, card_path = _card(ctx, model)
        model_path = ctx.loaded.resolve(model.path)
        evaluated = ctx.needs.get("eval")
        evaluation = measured_evaluation(
            evaluated.facts if evaluated is not None and evaluated.status != "errored" else None
        )
        outcome = generate_model_sbom(
            ModelSbomRequest(
                name=model.name,
                model_path=model_path,
                card=card,
                card_path=card_path,
                software=source,
                software_part=_prepared_software(ctx, source),
                output=sbom_output(ctx, model),
                display=ctx.display,
                git=_inputs_commit(ctx, model_path, source, evaluation),
                evaluation=evaluation,
            )
        )
        shown = ctx.display(outcome.path)
        facts = {
            "digest": outcome.digest,
            "components": outcome.components,
            "licenses": outcome.licenses,
            "model_card": outcome.model_card,
            "path": shown,
        }
        return result(
            ctx,
            self.name,
            facts=facts,
            metrics={"components": float(outcome.components)},
            artifacts=(shown,),
        )


_PREPARED_LOCK = threading.Lock()
_MAX = 512 * 1024 * 1024  # an SBOM of a large environment is megabytes, never this


def _software_source(ctx: Context) -> SoftwareSource:
    """Where the software components of the SBOM come from (``sbom:`` of the configuration)."""
    from mlops_ci.sbom.software import software_source

    settings = ctx.config.sbom
    config_position = SourcePosition(ctx.display(ctx.loaded.path) if ctx.loaded.path else ".")
    if settings.requirements is not None:
        requirements, key = settings.requirements, "sbom.requirements"
    else:  # the scanners' list may name pyproject.toml files, which are not requirements
        requirements = [r for r in ctx.config.scan.requirements if Path(r).name != "pyproject.toml"]
        key = "scan.requirements"
    return software_source(
        settings.source,
        requirements,
        settings.python,
        lambda path: ctx.loaded.resolve(path, "sbom.python" if path == settings.python else key),
        config_position,
        root=ctx.root,
        python_trusted=bool(settings.python)
        and ctx.loaded.is_trusted("sbom.python", str(settings.python)),
    )


def _prepared_software(ctx: Context, source: SoftwareSource) -> SoftwarePart | None:
    """The inventory :meth:`SbomCheck.prepare` made for ``source`` (its error, if it failed),
    or None when nothing was prepared (then the SBOM is built the usual way)."""
    with _PREPARED_LOCK:
        future = ctx.shared.get(f"sbom-software:{source!r}")
    return future.result() if isinstance(future, Future) else None


def _inputs_commit(
    ctx: Context,
    model_path: Path,
    source: SoftwareSource,
    evaluation: MeasuredEvaluation | None = None,
) -> GitInfo:
    """``ctx.git`` with the commit and time of the newest commit that changed the SBOM's inputs
    (the model and its data files, card, requirements, configuration), not HEAD's: committing
    evidence or a promotion must not change a signed SBOM's bytes."""
    from dataclasses import replace

    from mlops_ci.gitops import last_commit_of
    from mlops_ci.sbom.mlbom import model_files

    # A directory is one path for git; a file counts with the external data files it names.
    paths = [model_path] if model_path.is_dir() else [p for _, p in model_files(model_path)]
    paths = paths or [model_path]
    if ctx.current_model.card is not None:
        paths.append(ctx.loaded.resolve(ctx.current_model.card))
    paths += list(source.requirements)
    if ctx.loaded.path is not None:
        paths.append(ctx.loaded.path)
    if evaluation is not None:  # measured figures come from the data set too
        paths.append(ctx.root / evaluation.data)
    found = last_commit_of(ctx.root, paths)
    if found is None:
        return ctx.git
    return replace(ctx.git, commit=found[0], committed_at=found[1])


def _card(ctx: Context, model: ModelConfig) -> tuple[CardMetadata | None, str | None]:
    """The card's metadata (None when absent or invalid: the card check reports why)."""
    from mlops_ci.card.validate import read_card_text, validate_card

    if model.card is None:
        return None, None
    path = ctx.loaded.resolve(model.card)
    shown = ctx.display(path)
    if not path.is_file():
        return None, shown
    # Unparsable front matter raises InputError (exit 2, file and line), as in the card check.
    card = validate_card(read_card_text(path, shown), shown, ctx.config.cards.required_sections)
    return card.metadata, shown
