"""The ``ART-*`` rule IDs of the model-file scan (joined into :data:`mlops_ci.rules.RULES`).
Never rename one.
"""

from __future__ import annotations

from mlops_ci.findings import Severity
from mlops_ci.rules import Rule

ARTIFACT_RULES: tuple[Rule, ...] = (
    Rule(
        "ART-PICKLE-UNSAFE",
        "artifacts",
        "Pickle imports a dangerous global",
        "A pickle-based model file (or a pickle inside a PyTorch zip or .npy/.npz) imports a"
        " global that can run commands or code when the file is loaded (os/posix/nt,"
        " subprocess, builtins.eval/exec/__import__/getattr, runpy, webbrowser, socket, ...).",
        "Do not load the file; re-export the model as ONNX or safetensors from a trusted source.",
        Severity.CRITICAL,
        502,
    ),
    Rule(
        "ART-PICKLE-UNKNOWN",
        "artifacts",
        "Pickle imports a global outside the allowlist",
        "A pickle in a model file (found by content, whatever the file is called, compressed or"
        " inside an archive) imports a global that is neither on the allowlist (numpy arrays,"
        " torch tensors and storages, collections containers, harmless builtins, and"
        " scan.pickle_allow) nor known to be dangerous. Loading the file would import and run it.",
        "Review the named globals; allow trusted ones in scan.pickle_allow ('module.name' or"
        " 'package.*'), or re-export the model as ONNX or safetensors.",
        Severity.HIGH,
        502,
    ),
    Rule(
        "ART-PICKLE-UNDECODABLE",
        "artifacts",
        "Pickle cannot be fully decoded",
        "A pickle, or data a loader would read as one, cannot be fully decoded the way CPython's"
        " unpicklers read it: truncated, an invalid opcode, an extension code, a global named from"
        " a value computed at load time, or a container (archive, compression, nesting) past a"
        " bound or unreadable. What loading it would run is unknown, so it blocks.",
        "Do not load the file; re-export the model as ONNX or safetensors from a trusted source.",
        Severity.CRITICAL,
        502,
    ),
    Rule(
        "ART-ONNX-EXTERNAL-ESCAPE",
        "artifacts",
        "ONNX external data outside the model directory",
        "An ONNX tensor stores its data in an external file whose location is absolute, climbs"
        " out with '..', or resolves outside the model directory through a symlink. The file is"
        " never opened by the scanner.",
        "Save external data beside the model with a relative location"
        " (onnx.save_model(..., save_as_external_data=True, location='model.data')).",
        Severity.HIGH,
        22,
    ),
    Rule(
        "ART-ONNX-EXTERNAL-INVALID",
        "artifacts",
        "ONNX external data file missing or not a regular file",
        "An ONNX tensor names an external data file that does not exist, or that is a"
        " directory, FIFO, socket or device, or has no location at all. Such data cannot be"
        " scanned or signed; the file is never opened by the scanner.",
        "Ship every external data file as a regular file beside the .onnx (the location the"
        " model names), or save the model without external data.",
        Severity.HIGH,
        345,
    ),
    Rule(
        "ART-ONNX-CUSTOM-OP",
        "artifacts",
        "ONNX model uses a custom operator domain",
        "The model uses operators outside the standard ONNX domains (ai.onnx, ai.onnx.ml);"
        " the runtime must provide them, often as native code.",
        "Make sure the deployment runtime ships the custom operators from a trusted source.",
        Severity.INFO,
        category="Compatibility",  # runtimes without the operator cannot load it
    ),
    Rule(
        "ART-SYMLINK-ESCAPE",
        "artifacts",
        "Symlink escapes the model path",
        "A symlink under the model path points outside it; the scanner never follows it, and"
        " packaging or signing the model could pick up files from elsewhere.",
        "Replace the symlink with the file it points to, or remove it.",
        Severity.HIGH,
        59,
    ),
)
