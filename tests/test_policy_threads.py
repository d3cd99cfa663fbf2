"""A compiled policy program is shared by the policy gates of one run, which run in threads."""

from __future__ import annotations

import threading

from mlops_ci.policy.cel import compile_expression, evaluate, make_context
from mlops_ci.policy.pack import load_pack_text
from mlops_ci.runmemo import run_scope

PACK = """\
name: shared
version: 1.0.0
description: one rule, shared by threads
rules:
  - id: SHARED001
    description: big enough
    severity: high
    expr: size(lookup("card.governance.owners", [])) > 3
    message: too few owners
    remediation: add owners
"""


def test_one_program_gives_each_thread_its_own_answer() -> None:
    program = compile_expression('facts.a + size(facts.items) > 3 && lookup("facts.b", 0) == 2')
    errors: list[str] = []

    def work(value: int) -> None:
        context = make_context({"facts": {"a": value, "items": [1, 2, 3], "b": 2}})
        for _ in range(500):
            try:
                answer = evaluate(program, context)
            except Exception as exc:  # any failure is the finding
                errors.append(repr(exc))
                return
            if answer != (value + 3 > 3):
                errors.append(f"thread {value}: {answer!r}")
                return

    threads = [threading.Thread(target=work, args=(value,)) for value in range(-4, 4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_a_pack_is_compiled_once_per_run_and_afresh_after() -> None:
    with run_scope():
        first, second = load_pack_text(PACK, "p.yaml"), load_pack_text(PACK, "p.yaml")
        other = load_pack_text(PACK.replace("> 3", "> 4"), "p.yaml")
    assert first is second and other is not first
    assert load_pack_text(PACK, "p.yaml") is not first  # the run ended: nothing is kept
