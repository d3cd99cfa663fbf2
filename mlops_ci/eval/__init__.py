"""The ``eval`` gate: model quality and fairness measured against the running model.

Candidate and baseline score the same rows in one process; each gated metric's difference is
decided by a seeded paired bootstrap (PASS / FAIL / INCONCLUSIVE, like the latency gate).

- :mod:`mlops_ci.eval.settings`: the ``models[].eval`` configuration section;
- :mod:`mlops_ci.eval.types`: the frozen results passed between the parts below;
- :mod:`mlops_ci.eval.data`: evaluation data (Parquet, CSV, JSONL, ``.npz``) in record batches;
- :mod:`mlops_ci.eval.model`: one onnxruntime session per model, feeds and outputs;
- :mod:`mlops_ci.eval.engine`: streams the rows through both models and keeps what the
  analysis needs (labels, predictions, group columns, a bounded sample);
- :mod:`mlops_ci.eval.metrics`, :mod:`~mlops_ci.eval.bootstrap`, :mod:`~mlops_ci.eval.groups`,
  :mod:`~mlops_ci.eval.importance`, :mod:`~mlops_ci.eval.analysis`: scikit-learn metrics, the
  paired bootstrap, slices and fairlearn fairness, permutation importance, and the outcome;
- :mod:`mlops_ci.eval.batched`, :mod:`~mlops_ci.eval.auc`: the metrics' exact forms for many
  bootstrap resamples at once (checked against scikit-learn with the same row weights);
- :mod:`mlops_ci.eval.rules`: the ``EVAL-*`` rule IDs.

Importing this package is cheap: numpy, pyarrow, scikit-learn and fairlearn load lazily.
"""
