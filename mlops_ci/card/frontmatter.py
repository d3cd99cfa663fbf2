"""Splitting a model card into its YAML front matter and its Markdown body."""

from __future__ import annotations

from dataclasses import dataclass

from mlops_ci.errors import InputError, SourcePosition

MAX_CARD_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class CardText:
    """A card's parts. ``yaml_line`` is the file line where the front matter's YAML starts."""

    front_matter: str | None
    yaml_line: int
    body: str
    body_line: int


def split_front_matter(text: str, path: str) -> CardText:
    """Split ``text`` at its ``---`` delimiters; a card without front matter is all body.

    Raises :class:`InputError` when the front matter is opened but never closed, or when the card
    is larger than any real card (it would otherwise stall a CI runner).
    """
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_CARD_BYTES:
        raise InputError(
            f"model card is {size / 1048576:.1f} MiB, over the {MAX_CARD_BYTES // 1048576} MiB"
            " limit; keep large data out of the card",
            SourcePosition(path, 1),
        )
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip("\r\n").rstrip() != "---":
        return CardText(None, 1, text, 1)
    for index in range(1, len(lines)):
        if lines[index].rstrip("\r\n").rstrip() in ("---", "..."):
            return CardText(
                front_matter="".join(lines[1:index]),
                yaml_line=2,
                body="".join(lines[index + 1 :]),
                body_line=index + 2,
            )
    raise InputError(
        "the YAML front matter opened on line 1 is never closed; add a line with '---' after it",
        SourcePosition(path, 1, 1),
    )
