"""The demo's evaluation set: seeded transactions labelled by a known ground truth, with groups.

The ground truth is the first release's own function with label noise, so the first release
scores what a well-trained model would (ROC AUC ~0.93), a retrain close to it scores about the
same, and a model far from it regresses visibly. ``region`` and ``channel`` are group columns
for slices and fairness; they do not enter the model, so a gap between groups is chance alone.
"""

from __future__ import annotations

from pathlib import Path

ROWS = 5000
FEATURES = tuple(f"f{index:02d}" for index in range(64))
REGIONS = ("north", "south", "east", "west")
CHANNELS = ("online", "in-store")
# Label noise: the truth's margin is divided by this share of its spread before the sigmoid.
_TEMPERATURE = 0.27


def write_eval_set(model: Path, path: Path, *, seed: int = 2026, rows: int = ROWS) -> Path:
    """Write ``rows`` labelled rows scored by ``model``'s ground truth to the Parquet ``path``.

    The same model, seed and row count give the same bytes (no timestamps in the file).
    """
    import numpy as np
    import onnxruntime
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    features = rng.standard_normal((rows, len(FEATURES))).astype(np.float32)
    session = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    logits = session.run(None, {session.get_inputs()[0].name: features})[0]
    margin = (logits[:, 1] - logits[:, 0]).astype(np.float64)
    probability = 1 / (1 + np.exp(-margin / (_TEMPERATURE * margin.std())))
    label = (rng.random(rows) < probability).astype(np.int64)
    columns: dict[str, object] = {name: features[:, i] for i, name in enumerate(FEATURES)}
    columns["is_fraud"] = label
    columns["region"] = rng.choice(REGIONS, size=rows, p=[0.4, 0.3, 0.2, 0.1])
    columns["channel"] = rng.choice(CHANNELS, size=rows, p=[0.6, 0.4])
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    pq.write_table(pa.table(columns), temporary, compression="zstd")
    temporary.replace(path)
    return path
