"""onnx's C++ checker and its type names, without ``import onnx`` (issue 16).

``import onnx`` costs about a second of CPU (``ml_dtypes``' extension, the Python helpers), and
a ``check`` of a small model needs none of it: ``onnx.checker.check_model(path, ...)`` is one
call into onnx's C++ extension, ``onnx.onnx_cpp2py_export.checker.check_model_path``, and the
exceptions it raises are that extension's classes (``onnx.checker.ValidationError`` *is*
``onnx.onnx_cpp2py_export.checker.ValidationError``). :func:`native` loads the installed onnx's
extension under its own name, ``onnx.onnx_cpp2py_export``, without running ``onnx/__init__``
(the extension needs nothing of the Python package): ~3 ms instead of ~1 s.

The module is registered in ``sys.modules`` under that name, so when ``onnx`` is imported later
in the same process its ``import onnx.onnx_cpp2py_export.checker as C`` lines find *this*
module: one set of classes, never two copies of the extension (pybind11 refuses a second
registration of its types). Python does not set a submodule already in ``sys.modules`` as an
attribute of a package imported after it, so a one-shot import hook sets
``onnx.onnx_cpp2py_export`` when the package is executed. When onnx is already imported, or the
extension cannot be found or loaded (a future onnx laid out differently), onnx's own modules are
used: the same functions, at the old cost.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
from types import ModuleType
from typing import Any

EXTENSION = "onnx.onnx_cpp2py_export"

# TensorProto.DataType -> the numpy dtype name ``onnx.helper.tensor_dtype_to_np_dtype`` gives
# (onnx 1.23; the sub-byte and 8-bit float types are ml_dtypes' names). A value not listed is
# asked of onnx itself.
NP_DTYPE_NAMES: dict[int, str] = {
    1: "float32",
    2: "uint8",
    3: "int8",
    4: "uint16",
    5: "int16",
    6: "int32",
    7: "int64",
    8: "object",
    9: "bool",
    10: "float16",
    11: "float64",
    12: "uint32",
    13: "uint64",
    14: "complex64",
    15: "complex128",
    16: "bfloat16",
    17: "float8_e4m3fn",
    18: "float8_e4m3fnuz",
    19: "float8_e5m2",
    20: "float8_e5m2fnuz",
    21: "uint4",
    22: "int4",
    23: "float4_e2m1fn",
    24: "float8_e8m0fnu",
    25: "uint2",
    26: "int2",
    27: "float6_e2m3fn",
    28: "float6_e3m2fn",
}

_LOCK = threading.Lock()
_LOADED: list[Any] = []


def native() -> Any:
    """onnx's C++ extension module (``checker.check_model_path``, ``checker.ValidationError``,
    ``shape_inference.InferenceError``...), loaded without the ``onnx`` package when possible."""
    with _LOCK:
        if not _LOADED:
            _LOADED.append(_standalone() or _from_onnx())
        return _LOADED[0]


def check_model_path(path: str) -> None:
    """``onnx.checker.check_model(path, full_check=True)``: the same C++ call, the same
    exceptions (:func:`checker_errors`)."""
    native().checker.check_model_path(path, True, False, False)


def checker_errors() -> tuple[type[BaseException], ...]:
    """The exceptions onnx's checker raises for an invalid model: ``ValidationError`` and
    ``InferenceError``."""
    module = native()
    return (module.checker.ValidationError, module.shape_inference.InferenceError)


def np_dtype_name(elem_type: int) -> str:
    """The numpy dtype name of an ONNX tensor element type, as ``onnx.helper`` gives it."""
    name = NP_DTYPE_NAMES.get(elem_type)
    if name is not None:
        return name
    import onnx

    return str(onnx.helper.tensor_dtype_to_np_dtype(elem_type).name)


def _from_onnx() -> ModuleType:
    import onnx.onnx_cpp2py_export as extension

    return extension


def _standalone() -> ModuleType | None:
    if "onnx" in sys.modules or EXTENSION in sys.modules:
        return None  # the package (or its extension) is loaded: use it as it is
    try:
        package = importlib.util.find_spec("onnx")
        if package is None or not package.submodule_search_locations:
            return None
        spec = importlib.machinery.PathFinder.find_spec(
            EXTENSION, list(package.submodule_search_locations)
        )
        if spec is None or not isinstance(spec.loader, importlib.machinery.ExtensionFileLoader):
            return None
        module = importlib.util.module_from_spec(spec)
        sys.modules[EXTENSION] = module
        spec.loader.exec_module(module)
        module.checker.check_model_path  # noqa: B018 (the function this module exists for)
    except Exception:  # any surprise: onnx's own import path, at its own cost
        sys.modules.pop(EXTENSION, None)
        return None
    sys.meta_path.insert(0, _AttachOnImport())
    return module


class _AttachOnImport(importlib.abc.MetaPathFinder):
    """Sets ``onnx.onnx_cpp2py_export`` on the ``onnx`` package once it is imported (the
    extension was registered in ``sys.modules`` before the package existed), then removes
    itself."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        """Wrap the package's loader so that the attribute is set after it runs."""
        if fullname != "onnx":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec("onnx")
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _Attaching(spec.loader)
        return spec


class _Attaching(importlib.abc.Loader):
    """A loader that attaches the already-loaded extension to the package, then runs ``inner``
    (before, so that the package's own ``onnx.onnx_cpp2py_export`` lookups find it too)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        # Everything else (resource readers, get_code, is_package) is the package loader's.
        return getattr(self.inner, name)

    def create_module(self, spec: Any) -> Any:
        """The inner loader's module."""
        return self.inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        """Set the attribute Python would have set, then run the package."""
        extension = sys.modules.get(EXTENSION)
        if extension is not None:
            module.onnx_cpp2py_export = extension  # type: ignore[attr-defined]
        self.inner.exec_module(module)
