"""The ONNX latency benchmark: onnxruntime harness, statistics, baselines, environment fingerprint.

Modules, in the order a run uses them:

- ``session``: execution providers and one ``InferenceSession`` per model, options recorded;
- ``inputs``: inputs synthesised from the graph (every dynamic dimension given) or read from .npz;
- ``timing``: the timed loops (``session.run`` on CPU, IO binding and explicit synchronisation on
  GPU) and the warm-up that runs until timings are stable;
- ``stats``: percentiles, order-statistic confidence intervals, pyperf-style instability;
- ``compare``: the same-run comparison in randomised interleaved blocks, and the verdict;
- ``baseline``: where the baseline comes from (.onnx file, git ref, stored results);
- ``fingerprint``: the environment a measurement belongs to;
- ``results``: the JSON results file (pytest-benchmark's layout, plus an ``mlops_ci`` section);
- ``engine``: one benchmark run from a plan to an outcome.

Nothing here prints; progress goes through a callback. onnxruntime and numpy are imported inside
functions, so importing this package stays cheap.
"""
