"""What the eval gate reads from a model's graph: the class labels a classifier declares."""

from __future__ import annotations

from pathlib import Path
from typing import Any

_CLASS_ATTRIBUTES = ("classlabels_ints", "classlabels_int64s", "classlabels_strings")
_CLASSIFIERS = ("ZipMap", "LinearClassifier", "TreeEnsembleClassifier", "SVMClassifier")
_INTS, _STRINGS = 7, 8  # onnx.AttributeProto.INTS, .STRINGS


def graph_classes(model: Path | bytes) -> tuple[Any, ...]:
    """The class labels the graph's ZipMap or ``ai.onnx.ml`` classifier node declares, or ().

    Read from the graph alone (:func:`~mlops_ci.onnx_graph.load_graph`, no ``import onnx``).
    """
    from mlops_ci.onnx_graph import load_graph, model_class

    if isinstance(model, bytes):
        proto = model_class()()
        proto.ParseFromString(model)
    else:
        proto = load_graph(model)
    found: dict[str, tuple[Any, ...]] = {}
    for node in proto.graph.node:
        if node.op_type not in _CLASSIFIERS or node.op_type in found:
            continue
        for attribute in node.attribute:
            if attribute.name not in _CLASS_ATTRIBUTES:
                continue
            if attribute.type == _INTS:
                found[node.op_type] = tuple(int(v) for v in attribute.ints)
            elif attribute.type == _STRINGS:
                found[node.op_type] = tuple(v.decode("utf-8") for v in attribute.strings)
    # ZipMap's keys are the order the probabilities come in; the classifier's otherwise.
    return next((found[op] for op in _CLASSIFIERS if op in found), ())
