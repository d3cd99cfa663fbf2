"""A content-addressed cache of check results in ``.mlops-ci/cache``.

A check takes part by declaring the files it reads (``inputs(ctx) -> list[Path]``; a directory
stands for every file under it) and, optionally, more key material (``cache_material(ctx)``, e.g.
the policy facts document). The key of one result is the SHA-256 of: the cache format, the tool
version and a fingerprint of its modules, the versions of Python and of the libraries the cached
checks use, the check and its model's configuration entry, the rest of the configuration
(less the ``models`` list and what applies after the cache), offline mode, target environment
and CLI options, the results the check needs, the digest of every input file, and that extra
material. So a changed file invalidates exactly the checks that read it, and a new model in a
monorepo invalidates nothing else. (The policy check reads the git facts, changed files
included, so any change to the work tree runs it again.) ``inputs`` may answer None: this run of
the check cannot be keyed (an online audit, an environment inventory), so it runs.

What is stored is the check's own output, before waivers and ``fail_on`` are applied (the runner
and the pipeline do that afterwards), so editing ``waivers.yaml`` needs no invalidation. Checks
that talk to the network or measure time (online dependency audits, benchmarks, signatures) simply
declare no inputs and are never cached. Errored results are never stored. A check may keep text
with its result (``attachment(ctx, result)``: the SBOM document it wrote; None stores nothing)
and must then accept a stored result with ``restore(ctx, result, attachment)`` (rewrite the file;
False runs the check instead), and may refuse to store one (``storable(ctx, result)``: an audit
that could not reach its database). Checks whose key holds more than files (tool versions, the
git commit) set ``stampable = False``: the pre-push stamp, which re-reads only the declared
files, must not replay them.

File digests are memoised by ``(size, mtime_ns, ctime_ns, inode)`` in ``stat.json``, like git's
index, so a re-run does not re-hash big models; an entry is trusted only when the file's mtime is
older than the moment it was hashed by more than the file system's timestamp granularity.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from stat import S_ISREG
from typing import TYPE_CHECKING, Any

from mlops_ci import __version__
from mlops_ci.errors import MlopsCiError
from mlops_ci.findings import CheckResult, JsonValue
from mlops_ci.fsutil import atomic_write
from mlops_ci.safepath import confine, read_bytes
from mlops_ci.sealed import seal, unseal

if TYPE_CHECKING:  # the pre-push fast path imports this module without pydantic
    from mlops_ci.config import LoadedConfig

CACHE_FORMAT = 3  # 2: entries sealed (mlops_ci.sealed); 3: {result, attachment}
CACHE_DIRNAME = ".mlops-ci/cache"
_RACY_NS = 2_000_000_000  # FAT's 2 s mtime granularity is the coarsest in use
MAX_ENTRIES = 4096
_APPLIED_AFTER = {"models", "fail_on", "waivers", "hook"}
CACHED_LIBRARIES = ("onnx", "common-expression-language", "pydantic", "ruamel.yaml")


@functools.cache
def code_fingerprint() -> str:
    """The size and mtime of every module of mlops_ci: an edit to an editable install (the
    version number stays the same) must not be answered from the cache."""
    package = Path(__file__).resolve().parent
    entries = []
    for module in sorted(package.rglob("*.py")):
        stat = module.stat()
        entries.append(f"{module.relative_to(package)}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(entries).encode()).hexdigest()


@functools.cache
def library_versions() -> dict[str, str]:
    """Versions of the libraries whose verdicts the cached checks repeat."""
    from importlib import metadata

    versions = {}
    for name in CACHED_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def result_digest(result: CheckResult) -> str:
    """The digest of a result's content (its duration left out: it varies from run to run)."""
    data = result.to_dict()
    data["duration_s"] = 0.0
    return _digest(data)


def _digest(material: JsonValue) -> str:
    text = json.dumps(material, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class FileDigests:
    """SHA-256 of files, memoised by stat information in a JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._changed = False
        try:
            loaded = json.loads(read_bytes(path, what="stat memo"))
            self._entries: dict[str, list[Any]] = loaded if isinstance(loaded, dict) else {}
        except (OSError, ValueError, MlopsCiError):
            self._entries = {}

    def digest(self, path: Path) -> str:
        """``sha256:<hex>`` of the file, ``missing`` when absent, ``unreadable`` on OSError.

        A symlink is keyed by its target's name, never followed: the scanners do not follow
        links either, and a link pointing outside the repository must not be read.
        """
        if path.is_symlink():
            try:
                return f"symlink:{path.readlink()}"
            except OSError:
                return "unreadable"
        try:
            stat = path.stat()
        except FileNotFoundError:
            return "missing"
        except OSError:
            return "unreadable"
        if not S_ISREG(stat.st_mode):  # a FIFO would block open() forever; a device never ends
            return f"special:{stat.st_mode:o}"
        signature = [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]
        name = str(path)
        with self._lock:
            entry = self._entries.get(name)
        if entry is not None and entry[:4] == signature and stat.st_mtime_ns + _RACY_NS < entry[4]:
            return str(entry[5])
        hashed_at = time.time_ns()
        from mlops_ci.digests import sha256_hex

        try:  # through the run's digest memo: the SBOM and signing then reuse this hash
            value = "sha256:" + sha256_hex(path)
        except (OSError, MlopsCiError):
            return "unreadable"
        with self._lock:
            self._entries[name] = [*signature, hashed_at, value]
            self._changed = True
        return value

    def save(self) -> None:
        """Write the memo back when it changed (entries for deleted files are dropped)."""
        with self._lock:
            if not self._changed:
                return
            kept = {name: entry for name, entry in self._entries.items() if Path(name).exists()}
            self._changed = False
        atomic_write(self.path, json.dumps(kept, separators=(",", ":")))


def expand_inputs(paths: Iterable[Path]) -> list[Path]:
    """Every file the declared inputs stand for: directories expand to the files under them."""
    files: set[Path] = set()
    for path in paths:
        if path.is_dir():
            files.update(p for p in path.rglob("*") if p.is_file() or p.is_symlink())
        else:
            files.add(path)
    return sorted(files)


class ResultCache:
    """Check results stored as JSON files named by their key."""

    def __init__(self, directory: Path, root: Path, config_material: JsonValue) -> None:
        self.directory = directory
        self.root = root.resolve()
        self._root_as_given = str(root.absolute())
        self.digests = FileDigests(directory / "stat.json")
        # Digested once: every key of a run holds it (20 models make ~150 keys).
        self._base = {
            "base": _digest(
                {
                    "format": CACHE_FORMAT,
                    "tool": __version__,
                    "code": code_fingerprint(),
                    "libraries": library_versions(),
                    "python": list(sys.version_info[:3]),
                    "config": config_material,
                }
            )
        }
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.declared: set[Path] = set()
        self.uncacheable: set[str] = set()
        self.unstampable: set[str] = set()

    def key(self, check: Any, ctx: Any) -> str | None:
        """The key of ``check`` run in ``ctx``, or None when the check is not cacheable."""
        material = self._material(check, ctx)
        return None if material is None else _digest(material)

    def likely_hit(self, check: Any, ctx: Any) -> bool:
        """Whether a result of ``check`` for the same inputs, whatever the results it needs,
        was stored: a hint to skip work prepared ahead for it (never a reason to serve one)."""
        material = self._material(check, ctx, hint=True)
        return material is not None and self._hint(_digest(material)).exists()

    def _material(self, check: Any, ctx: Any, hint: bool = False) -> dict[str, Any] | None:
        inputs = getattr(check, "inputs", None)
        found = inputs(ctx) if inputs is not None else None
        if found is None:  # not keyable (online, an environment inventory): it runs
            if not hint:
                with self._lock:
                    self.uncacheable.add(check.name)
            return None
        declared = list(found)
        if not hint:
            with self._lock:
                self.declared.update(declared)
                if not getattr(check, "stampable", True):
                    self.unstampable.add(check.name)
        extra = getattr(check, "cache_material", None)
        files = expand_inputs(declared)
        return {
            **self._base,
            "check": check.name,
            "model": ctx.model.model_dump(mode="json") if ctx.model is not None else None,
            "offline": ctx.offline,
            "environment": ctx.environment,
            "options": dict(ctx.options),
            "needs": (
                None if hint else {name: result_digest(r) for name, r in sorted(ctx.needs.items())}
            ),
            "inputs": [[self._shown(p), self.digests.digest(p)] for p in files],
            "extra": extra(ctx) if extra is not None else None,
        }

    def _verdict_key(self, label: str, files: Iterable[Path]) -> str | None:
        digests = [[self._shown(p), self.digests.digest(p)] for p in files]
        if any(not d.startswith("sha256:") for _, d in digests):
            return None  # a link, a missing or special file: its bytes cannot be vouched for
        return _digest({**self._base, "label": label, "inputs": digests})

    def passed_before(self, label: str, files: Iterable[Path]) -> bool:
        """Whether a check labelled ``label`` was recorded as passing (see :meth:`record_pass`)
        on these exact file contents, with this code, configuration and these libraries."""
        key = self._verdict_key(label, files)
        if key is None:
            return False
        try:
            found = unseal(read_bytes(self._verdict(key), what="cache entry"))
        except (OSError, ValueError, MlopsCiError):
            return False
        return bool(found == {"label": label, "passed": True})

    def record_pass(self, label: str, files: Iterable[Path]) -> None:
        """Record that a deterministic check of ``files`` (a policy pack compiling) passed."""
        key = self._verdict_key(label, files)
        sealed = seal({"label": label, "passed": True}) if key is not None else None
        if key is not None and sealed is not None:
            with contextlib.suppress(OSError):
                atomic_write(self._verdict(key), sealed)

    def _verdict(self, key: str) -> Path:
        return self.directory / "verdicts" / f"{key}.json"

    def _shown(self, path: Path) -> str:
        # A label only (the digest speaks for the content): no symlink is resolved, which costs
        # a system call per path component; two spellings of one file only make two keys.
        absolute = str(path.absolute())
        for root in (self._root_as_given, str(self.root)):
            if absolute.startswith(root + os.sep):
                return Path(absolute[len(root) + 1 :]).as_posix()
        return str(path)

    def _entry(self, key: str) -> Path:
        return self.directory / "results" / key[:2] / f"{key}.json"

    def _hint(self, key: str) -> Path:
        return self.directory / "hints" / key

    def get(self, key: str) -> tuple[CheckResult, str | None] | None:
        """The stored result for ``key`` and its attachment, or None (a corrupt entry is a
        miss)."""
        found: tuple[CheckResult, str | None] | None
        try:
            # Only an entry this machine sealed: a pull request can commit cache files too.
            data = unseal(read_bytes(self._entry(key), what="cache entry"))
            attachment = None if data is None else data.get("attachment")
            if data is None or not isinstance(attachment, str | None):
                found = None
            else:
                found = (CheckResult.from_dict(data["result"]), attachment)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, MlopsCiError):
            found = None
        with self._lock:
            if found is None:
                self.misses += 1
            else:
                self.hits += 1
        return found

    def miss(self) -> None:
        """Count a stored result the check refused to restore (see ``restore``) as a miss."""
        with self._lock:
            self.hits -= 1
            self.misses += 1

    def put(
        self,
        key: str,
        result: CheckResult,
        attachment: str | None = None,
        hint: tuple[Any, Any] | None = None,
    ) -> None:
        """Store ``result`` (and ``attachment``) under ``key``; errored results never are.
        ``hint``, the check and its context, also records the key less the needed results
        (see :meth:`likely_hit`)."""
        if result.status == "errored":
            return
        if hint is not None:
            material = self._material(*hint, hint=True)
            if material is not None:
                with contextlib.suppress(OSError):
                    atomic_write(self._hint(_digest(material)), "")
        sealed = seal({"result": result.to_dict(), "attachment": attachment})
        if sealed is None:  # no key outside the repository: nothing could be trusted later
            return
        with contextlib.suppress(OSError):  # a read-only checkout just gets no caching
            atomic_write(self._entry(key), sealed)

    def close(self, max_entries: int = MAX_ENTRIES) -> None:
        """Save the digest memo; drop the oldest results beyond ``max_entries``."""
        try:
            self.digests.save()
            self._ignore_in_git()
            self._prune(max_entries)
        except OSError:  # the cache is an optimisation: never fail a run over it
            pass

    def _prune(self, max_entries: int) -> None:
        for small in ("hints", "verdicts"):
            folder = self.directory / small
            if folder.is_dir() and len(found := list(folder.iterdir())) > max_entries:
                for stale in found:  # a missing one only costs the work it saved
                    stale.unlink(missing_ok=True)
        results = self.directory / "results"
        if not results.is_dir():
            return
        entries = list(results.glob("*/*.json"))
        if len(entries) <= max_entries:
            return
        entries.sort(key=lambda p: p.stat().st_mtime_ns)
        for stale in entries[: len(entries) - max_entries // 2]:
            stale.unlink(missing_ok=True)

    def _ignore_in_git(self) -> None:
        marker = self.directory / ".gitignore"
        if not marker.exists():
            atomic_write(marker, "# written by mlops-ci: the result cache is never committed\n*\n")


def open_cache(loaded: LoadedConfig, environ: Mapping[str, str]) -> ResultCache:
    """The cache of the repository of ``loaded`` (``MLOPS_CI_CACHE_DIR`` moves it).

    The configuration is part of every key, less the ``models`` list (each check's key holds
    its own model's entry, so adding a model to a monorepo invalidates nothing else) and less
    what is applied to results after the cache (``fail_on``, ``waivers``) or only chooses checks
    (``hook``).
    """
    configured = environ.get("MLOPS_CI_CACHE_DIR")
    # The default lies in the repository, where a planted symlink could carry writes outside.
    directory = (
        Path(configured)
        if configured
        else confine(CACHE_DIRNAME, loaded.root, what="cache directory")
    )
    material = loaded.config.model_dump(mode="json", exclude=_APPLIED_AFTER)
    return ResultCache(directory, loaded.root, material)


def cache_disabled(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether ``MLOPS_CI_NO_CACHE`` turns the cache off."""
    return environ.get("MLOPS_CI_NO_CACHE", "").lower() in ("1", "true", "yes")
