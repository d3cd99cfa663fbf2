"""Runs a composite action's steps the way the GitHub runner does, without GitHub.

Each ``run:`` step is written to a file and run with ``bash --noprofile --norc -eo pipefail``
(the runner's ``shell: bash``) in its ``working-directory``, with the runner's files
(``GITHUB_OUTPUT`` fresh per step, ``GITHUB_STEP_SUMMARY``, ``GITHUB_PATH``, ``RUNNER_TEMP``) and
the step's ``env:`` evaluated from the inputs, as the runner maps them. ``if:`` conditions are
evaluated with the implicit ``success()``; ``uses:`` steps are recorded, not run. The expression
language supported is the subset the actions use: context lookups, string literals, ``==``,
``!=``, ``&&``, ``||``, ``!`` and parentheses.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<op>==|!=|&&|\|\||!|\(|\))"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_.-]*))"
)


@dataclass
class StepRun:
    """What one step did."""

    name: str
    ran: bool
    returncode: int = 0
    stdout: str = ""
    stderr: str = ""
    uses: str | None = None
    with_: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class ActionRun:
    """What the whole action did."""

    steps: list[StepRun]
    outputs: dict[str, str]
    summary: str
    path_additions: list[str]

    @property
    def failed(self) -> bool:
        """Whether some step failed (the job would be red)."""
        return any(s.ran and s.returncode != 0 for s in self.steps)

    def step(self, name: str) -> StepRun:
        """The step called ``name``."""
        return next(s for s in self.steps if s.name == name)

    @property
    def log(self) -> str:
        """Every step's output, for assertion messages."""
        return "\n".join(f"--- {s.name} ({s.returncode})\n{s.stdout}{s.stderr}" for s in self.steps)


def load_action(name: str) -> dict[str, Any]:
    """``actions/<name>/action.yml`` as data."""
    data: dict[str, Any] = YAML(typ="safe").load(
        (ROOT / "actions" / name / "action.yml").read_text()
    )
    return data


def _evaluate(expression: str, lookup: Mapping[str, str]) -> Any:
    """Evaluate one expression of the supported subset."""
    parts = []
    position = 0
    while position < len(expression):
        match = _TOKEN.match(expression, position)
        if match is None or match.end() == position:
            raise ValueError(f"unsupported expression: {expression!r}")
        position = match.end()
        if match.group("string") is not None:
            parts.append(repr(match.group("string")[1:-1].replace("''", "'")))
        elif match.group("op") is not None:
            parts.append(
                {"&&": " and ", "||": " or ", "!": " not "}.get(
                    match.group("op"), match.group("op")
                )
            )
        else:
            parts.append(repr(lookup.get(match.group("name"), "")))
    return eval("".join(parts), {"__builtins__": {}})  # noqa: S307  (built from the tokens above)


def _interpolate(text: str, lookup: Mapping[str, str]) -> str:
    return _EXPRESSION.sub(lambda m: str(_evaluate(m.group(1), lookup)), text)


def _outputs(path: Path) -> dict[str, str]:
    """Parse a GITHUB_OUTPUT file: ``name=value`` lines and ``name<<DELIM`` blocks."""
    values: dict[str, str] = {}
    lines = path.read_text().splitlines() if path.exists() else []
    index = 0
    while index < len(lines):
        line = lines[index]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            block = []
            index += 1
            while lines[index] != delimiter:
                block.append(lines[index])
                index += 1
            values[name] = "\n".join(block)
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
        index += 1
    return values


def run_action(
    name: str,
    inputs: Mapping[str, str],
    *,
    workspace: Path,
    runner_temp: Path,
    env: Mapping[str, str] | None = None,
    event_name: str = "push",
    context: Mapping[str, str] | None = None,
) -> ActionRun:
    """Run ``actions/<name>`` with ``inputs`` in ``workspace``; ``context`` adds expression
    values such as ``github.token`` (empty unless given, as in a job without a token)."""
    action = load_action(name)
    given = {key: str(spec.get("default", "")) for key, spec in action.get("inputs", {}).items()}
    unknown = set(inputs) - set(given)
    assert not unknown, f"not inputs of the action: {unknown}"
    given.update(inputs)
    action_path = ROOT / "actions" / name
    runner_temp.mkdir(parents=True, exist_ok=True)
    summary = runner_temp / "step_summary.md"
    summary.write_text("")
    github_path = runner_temp / "github_path"
    github_path.write_text("")
    base_env = {**os.environ, **(env or {})}
    base_env.update(
        {
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_ACTION_PATH": str(action_path),
            "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_PATH": str(github_path),
            "GITHUB_EVENT_NAME": event_name,
            "RUNNER_TEMP": str(runner_temp),
        }
    )
    lookup: dict[str, str] = {f"inputs.{k}": v for k, v in given.items()}
    lookup.update({"github.action_path": str(action_path), "github.event_name": event_name})
    lookup.update(context or {})
    runs: list[StepRun] = []
    failed = False
    for index, step in enumerate(action["runs"]["steps"]):
        title = step.get("name", f"step {index}")
        condition = step.get("if")
        wanted = not failed and (condition is None or bool(_evaluate(condition, lookup)))
        if not wanted:
            runs.append(StepRun(title, ran=False))
            continue
        if "uses" in step:
            with_ = {k: _interpolate(str(v), lookup) for k, v in step.get("with", {}).items()}
            runs.append(StepRun(title, ran=True, uses=step["uses"], with_=with_))
            continue
        assert step.get("shell") == "bash", f"{title}: every run step needs shell: bash"
        assert "${{" not in step["run"], f"{title}: an expression inside run:"
        output_file = runner_temp / f"output_{index}"
        output_file.write_text("")
        step_env = dict(base_env)
        step_env.update({k: _interpolate(str(v), lookup) for k, v in step.get("env", {}).items()})
        step_env["GITHUB_OUTPUT"] = str(output_file)
        extra_path = [p for p in github_path.read_text().splitlines() if p]
        step_env["PATH"] = os.pathsep.join([*reversed(extra_path), base_env["PATH"]])
        script = runner_temp / f"step_{index}.sh"
        script.write_text(step["run"])
        cwd = workspace / _interpolate(str(step.get("working-directory", ".")), lookup)
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=cwd,
            env=step_env,
            capture_output=True,
            text=True,
            check=False,
        )
        outputs = _outputs(output_file)
        if "id" in step:
            lookup.update({f"steps.{step['id']}.outputs.{k}": v for k, v in outputs.items()})
        runs.append(
            StepRun(title, True, done.returncode, done.stdout, done.stderr, outputs=outputs)
        )
        failed = failed or done.returncode != 0
    action_outputs = {
        key: _interpolate(str(spec["value"]), lookup)
        for key, spec in action.get("outputs", {}).items()
    }
    return ActionRun(
        runs,
        action_outputs,
        summary.read_text(),
        [p for p in github_path.read_text().splitlines() if p],
    )
