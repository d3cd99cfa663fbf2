"""Pickle verdicts: every global a pickle would import, judged against an allowlist.

Nothing is ever unpickled. :mod:`mlops_ci.scan.pickle_vm` decodes the opcodes with the grammar of
CPython's own unpicklers and names every global a load would import (``GLOBAL``, ``INST``,
``STACK_GLOBAL``, through the memo); this module judges each one:

- known dangerous (``os``/``posix``/``nt``, ``subprocess``, ``_posixsubprocess``, ``pydoc``,
  ``builtins.eval``/``exec``/``__import__``/``getattr``, ``runpy``, ``webbrowser``, ``socket``,
  ``types``, ``marshal``, ...): unsafe (critical);
- on the allowlist (a small shipped list: numpy array and torch tensor rebuilds, ``collections``
  containers, harmless builtins; plus ``scan.pickle_allow`` patterns): fine;
- anything else: unknown (high: loading the file would import and run it).

A stream that cannot be fully decoded (truncated, an invalid opcode, an extension code, a global
named from a computed value, a bound exceeded) is reported as undecodable: blocking, never a pass.

Protocols 0-2 name Python 2 modules, which the loaders map (``_compat_pickle``, with
``fix_imports``): a global is allowed only if both its written and its mapped names are, and is
dangerous if either is. Protocol 4 resolves dotted names attribute by attribute
(``torch`` + ``os.system`` is ``os.system``): a dotted name is dangerous if any part is a
dangerous module, and glob patterns never match one.

Why not fickling: it is LGPL-3.0, denylist-first (an ``OrderedDict`` pickle is "suspicious",
``os.system`` is reported as ``posix``) and its API is not a stable contract.
"""

from __future__ import annotations

import _compat_pickle
import re
from dataclasses import dataclass
from typing import IO, Literal

from mlops_ci.scan.pickle_input import Blob
from mlops_ci.scan.pickle_vm import Budget, Decoded, decode_stream

Verdict = Literal["safe", "unsafe", "unknown"]

_BUILTINS = ("builtins", "__builtin__")  # protocols 0-2 write Python 2's module name
MAX_PICKLES = 64  # consecutive pickles in one stream (legacy torch files hold five)


def _names(modules: tuple[str, ...] | str, names: str) -> list[tuple[str, str]]:
    """``(module, name)`` pairs for every module and every space-separated name."""
    modules = (modules,) if isinstance(modules, str) else modules
    return [(module, name) for module in modules for name in names.split()]


SAFE_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    _names(_BUILTINS, "set frozenset dict list tuple bytearray bytes complex int float str bool")
    + _names(_BUILTINS, "slice range object NoneType Ellipsis")
    + _names("collections", "OrderedDict defaultdict Counter deque")
    + _names(("copyreg", "copy_reg"), "_reconstructor")
    + _names("_codecs", "encode")  # protocol 2 writes bytes as _codecs.encode(str, 'latin1')
    + _names(("numpy.core.multiarray", "numpy._core.multiarray"), "_reconstruct scalar")
    + _names(("numpy.core.numeric", "numpy._core.numeric"), "_frombuffer")
    + _names("numpy", "ndarray dtype")
    + _names(
        "torch._utils",
        "_rebuild_tensor _rebuild_tensor_v2 _rebuild_tensor_v3 _rebuild_parameter"
        " _rebuild_parameter_with_state _rebuild_qtensor _rebuild_sparse_tensor"
        " _rebuild_nested_tensor _rebuild_device_tensor_from_numpy"
        " _rebuild_meta_tensor_no_storage _rebuild_wrapper_subclass",
    )
    + _names("torch._tensor", "_rebuild_from_type_v2")
    + _names("torch.serialization", "_get_layout")
    + _names(
        "torch",
        "Size Tensor device dtype layout memory_format strided sparse_coo contiguous_format"
        " channels_last preserve_format float16 float32 float64 bfloat16 complex64 complex128"
        " int8 int16 int32 int64 uint8 bool qint8 quint8 qint32",
    )
    + _names(
        "torch",
        "FloatStorage DoubleStorage HalfStorage BFloat16Storage LongStorage IntStorage"
        " ShortStorage CharStorage ByteStorage BoolStorage ComplexFloatStorage"
        " ComplexDoubleStorage QInt8Storage QUInt8Storage QInt32Storage UntypedStorage",
    )
    + _names("torch.storage", "UntypedStorage TypedStorage")
    + _names("torch.nn.parameter", "Parameter")
)

# Modules whose every global can run commands, load code, touch the network or the filesystem.
_DANGEROUS_MODULE_NAMES = (
    "os posix nt subprocess _posixsubprocess _winapi sys shutil socket _socket ssl runpy"
    " webbrowser antigravity pty commands importlib imp pkgutil zipimport ctypes _ctypes cffi"
    " pickle _pickle marshal code codeop types inspect multiprocessing concurrent asyncio"
    " threading _thread signal tempfile io _io fcntl mmap resource urllib urllib2 http httplib"
    " xmlrpc requests ftplib smtplib telnetlib poplib imaplib nntplib paramiko pip setuptools"
    " distutils ensurepip venv site platform pdb bdb pydoc timeit cProfile profile trace dill"
    " cloudpickle yaml shelve dbm glob gc operator functools torch.hub torch.jit"
    " torch.package numpy.f2py numpy.distutils"
    " numpy.testing"
)
DANGEROUS_MODULES: frozenset[str] = frozenset(_DANGEROUS_MODULE_NAMES.split())
DANGEROUS_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    _names(
        _BUILTINS,
        "eval exec execfile compile __import__ getattr setattr delattr open input breakpoint"
        " globals locals vars memoryview help exit quit file reload",
    )
    + _names("operator", "attrgetter methodcaller getitem")
    + _names("functools", "reduce partial")
    + _names(("torch", "numpy", "numpy.lib.npyio", "joblib"), "load")
    + _names("torch.storage", "_load_from_bytes")
    + _names("torch.serialization", "load _load")
)
# What a glob pattern never matches: names that are commands, loaders or dangerous modules.
_GLOB_EXCLUDED = frozenset(
    {n for _, n in DANGEROUS_GLOBALS}
    | {m for m in DANGEROUS_MODULES if "." not in m}
    | {"system", "popen", "Popen", "spawn", "call", "run", "check_call", "check_output"}
    | {"loads", "load_module"}
)
_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_PATTERN = re.compile(rf"{_IDENTIFIER}(?:\.{_IDENTIFIER})+|{_IDENTIFIER}(?:\.{_IDENTIFIER})*\.\*")


def _mapped(module: str, name: str) -> tuple[str, str]:
    """The names a protocol 0-2 load really imports (``fix_imports``, the default)."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


def _dangerous(module: str, name: str) -> bool:
    parts = name.split(".")
    if (module, parts[0]) in DANGEROUS_GLOBALS or (module, name) in DANGEROUS_GLOBALS:
        return True
    prefixes = module.split(".")
    if any(".".join(prefixes[: i + 1]) in DANGEROUS_MODULES for i in range(len(prefixes))):
        return True
    # Protocol 4 follows dotted names attribute by attribute (``sklearn.utils`` + ``os.system``),
    # and any module may hold another as an attribute (``sklearn.utils`` + ``subprocess``).
    return any(part in DANGEROUS_MODULES for part in parts)


def check_allow_pattern(pattern: str) -> str:
    """Validate one ``scan.pickle_allow`` entry; return it, or raise ``ValueError`` saying why.

    ``module.name`` allows exactly that global; ``package.*`` allows every global of the package
    and its submodules whose name is a plain identifier that is not a dunder or a command
    (``sklearn.*`` matches ``sklearn.tree._classes.DecisionTreeClassifier``, never
    ``sklearnx.os``, ``sklearn.utils`` + ``os.system`` or ``sklearn.x.__reduce__``).
    """
    if not _PATTERN.fullmatch(pattern):
        raise ValueError(
            f"{pattern!r} is not a global ('module.name') or a package glob ('package.*');"
            " no other wildcards are allowed"
        )
    if pattern.endswith(".*"):
        module = pattern[:-2]
        if _dangerous(module, "x"):
            raise ValueError(f"{pattern!r} would allow a module that can run code: not allowed")
        return pattern
    module, _, name = pattern.rpartition(".")
    if _dangerous(module, name):
        raise ValueError(f"{pattern!r} is known to run code when loaded: it cannot be allowed")
    return pattern


@dataclass(frozen=True)
class PicklePolicy:
    """The allowlist: the shipped globals plus validated ``scan.pickle_allow`` patterns."""

    allow: tuple[str, ...] = ()

    def _allowed(self, module: str, name: str) -> bool:
        if (module, name) in SAFE_GLOBALS:
            return True
        dotted = f"{module}.{name}"
        for pattern in self.allow:
            if not pattern.endswith(".*"):
                if dotted == pattern:
                    return True
                continue
            package = pattern[:-2]
            if (module == package or module.startswith(package + ".")) and _plain(name):
                return True
        return False

    def verdict(self, module: str, name: str) -> Verdict:
        """Whether importing ``module.name`` during unpickling is safe, unsafe or unknown."""
        candidates = {(module, name), _mapped(module, name)}
        if any(_dangerous(m, n) for m, n in candidates):
            return "unsafe"
        if all(self._allowed(m, n) for m, n in candidates):
            return "safe"
        return "unknown"


def _plain(name: str) -> bool:
    return (
        re.fullmatch(_IDENTIFIER, name) is not None
        and not name.startswith("__")
        and name not in _GLOB_EXCLUDED
    )


DEFAULT_POLICY = PicklePolicy()


def classify(module: str, name: str) -> Verdict:
    """The verdict on ``module.name`` under the shipped allowlist alone."""
    return DEFAULT_POLICY.verdict(module, name)


def shown(module: str, name: str) -> str:
    """A global as reports show it: short, printable, never a whole line of hostile bytes."""
    text = f"{module}.{name}"
    if re.fullmatch(r"[\w.<>-]{1,200}", text, re.ASCII):
        return text
    return ascii(text[:120])


@dataclass(frozen=True)
class PickleScan:
    """The globals a pickle stream imports, by verdict, and why it could not be fully decoded."""

    unsafe: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    imported: tuple[str, ...] = ()
    error: str | None = None  # set when the stream could not be fully decoded: blocking
    names: tuple[tuple[str, str], ...] = ()  # every (module, name) as written, in order
    pickles: int = 0
    end: int = 0


def scan_blob(
    blob: Blob,
    start: int = 0,
    end: int | None = None,
    *,
    claimed: bool,
    text: bool = False,
    policy: PicklePolicy = DEFAULT_POLICY,
    budget: Budget | None = None,
) -> PickleScan | None:
    """Scan the pickles at ``blob[start:end]``; ``None`` when the bytes are not a pickle.

    Every consecutive pickle is scanned. After the last one, the rest of the data is tried as one
    more: if a loader reading it would import a global, or what it would do cannot be decided,
    the stream is undecodable; if every loader would fail before importing anything, it is
    trailing data (a legacy torch file's storages). A ``claimed`` stream (a pickle by its name,
    its protocol header or its container) must decode to at least one STOP; an unclaimed one is a
    pickle only if it does, or if reading it imports anything. A ``text`` file (``.yaml``,
    ``.json``, ...) that fails before STOP is not a pickle when the only "globals" it names could
    never have been written by a pickler (``compute: fp16`` + the next line read as ``GLOBAL``);
    no data is when the only modules it names hold a NUL (no import can find one).
    """
    end = len(blob) if end is None else end
    found = decode_stream(blob, start, end, most=MAX_PICKLES + 1, budget=budget)
    if not found:
        return _judge([], "an empty pickle stream", 0, policy) if claimed else None
    complete = [d for d in found if d.outcome == "stop"]
    last = found[-1] if found else None
    error = None
    if len(complete) > MAX_PICKLES:
        error = f"more than {MAX_PICKLES} pickles in one stream"
    elif last is not None and last.outcome == "undecodable":
        error = last.reason
    elif last is not None and last.outcome == "reject":
        if not complete and claimed:
            error = f"not a complete pickle: {last.reason}"
        elif any(map(_importable, last.imports)) and not (
            text and not complete and not any(map(_written, last.imports))
        ):
            error = (
                f"data a loader would read as a pickle imports globals, then fails: {last.reason}"
            )
        elif not complete:
            return None
    if not complete and error is None and not claimed:
        return None
    return _judge(found, error, len(complete), policy)


def _importable(pair: tuple[str, str]) -> bool:
    """No import finds a module whose name holds a NUL (a path cannot): binary data that merely
    reads as a GLOBAL of one is not a pickle."""
    return "\0" not in pair[0]


def _written(pair: tuple[str, str]) -> bool:
    """Whether a pickler could have written this global: dotted identifiers both."""
    return all(part.isidentifier() for text in pair for part in text.split("."))


def _judge(
    found: list[Decoded], error: str | None, pickles: int, policy: PicklePolicy
) -> PickleScan:
    unsafe, unknown = [], []
    imports = dict.fromkeys(pair for d in found for pair in d.imports)
    for module, name in imports:
        verdict = policy.verdict(module, name)
        if verdict == "unsafe":
            unsafe.append(shown(module, name))
        elif verdict == "unknown":
            unknown.append(shown(module, name))
    imported = tuple(shown(m, n) for m, n in imports)
    end = found[-1].end if found else 0
    return PickleScan(tuple(unsafe), tuple(unknown), imported, error, tuple(imports), pickles, end)


def scan_pickle(stream: IO[bytes], policy: PicklePolicy = DEFAULT_POLICY) -> PickleScan:
    """Scan the pickle stream that ``stream`` holds from its position on (a claimed pickle)."""
    data = stream.read()
    return scan_blob(data, claimed=True, policy=policy) or PickleScan(error="not a pickle")
