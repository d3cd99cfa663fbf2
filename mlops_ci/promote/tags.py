"""GTO-compatible tags after a merge: ``MODEL#ENV#N`` marks that ``MODEL`` entered ``ENV``.

GTO (and DVC Studio) read stage assignments from annotated tags named ``name#stage#N``; the
counter makes each assignment unique. The reviewable PR stays the source of truth: tags only
mirror what the default branch's state files already say.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlops_ci.promote.gitwork import Author, PromotionRepo
from mlops_ci.promote.state import parse_state, state_path


def tag_promotions(
    repo: PromotionRepo,
    state_dir: str,
    environments: Sequence[str],
    author: Author,
    *,
    commit: str = "HEAD",
    push: bool = False,
) -> list[str]:
    """Tag every model whose entry ``commit`` changed (vs. its first parent); returns the tags."""
    sha = repo.resolve(commit) or commit
    parent = repo.resolve(f"{sha}^")
    created = []
    for env in environments:
        path = state_path(state_dir, env)
        after = parse_state(repo.read_at(sha, path), env, path, models=None)
        before = parse_state(repo.read_at(parent, path) if parent else None, env, path, models=None)
        for model, entry in sorted(after.models.items()):
            if before.entry(model) == entry:
                continue
            count = len(repo.tags(f"{model}#{env}#*"))
            name = f"{model}#{env}#{count + 1}"
            repo.tag(name, sha, f"{model} {entry.version} ({entry.digest}) in {env}", author, push)
            created.append(name)
    return created
