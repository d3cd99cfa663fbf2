"""Policy as code: CEL rules in YAML packs, evaluated over a facts document, plus waivers.

The CEL engine is ``common-expression-language`` (import ``cel``), chosen on the evidence in
DESIGN.md §5: it follows the CEL spec on int/double comparisons (``20 <= 20.5``) where
``cel-python`` raises, evaluates a rule in microseconds against a reused ``cel.Context``, and its
runtime errors do not dump the facts into the message. It is imported lazily (~0.27 s).
"""
