"""YAML documents that remember where each value came from, so an error in a template or a
target model names the file and the line a person has to fix."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError


@dataclass(frozen=True)
class YamlDoc:
    path: Path
    root: Any  # ruamel round-trip data: CommentedMap / CommentedSeq / scalars
    text: str

    def data(self) -> Any:
        """The document as plain dicts, lists and scalars."""
        return _plain(self.root)

    def line(self, where: Sequence[str | int]) -> int:
        """The 1-based line of the value at ``where`` (the deepest part that exists)."""
        node, line = self.root, 1
        for part in where:
            found = _child_line(node, part)
            if found is None:
                break
            line, node = found
        return line

    def at(self, where: Sequence[str | int]) -> str:
        return f"{self.path}:{self.line(where)}"


def _child_line(node: Any, part: str | int) -> tuple[int, Any] | None:
    if isinstance(node, CommentedMap) and part in node:
        return node.lc.key(part)[0] + 1, node[part]
    if isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
        return node.lc.item(part)[0] + 1, node[part]
    return None


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if hasattr(node, "value") and type(node).__name__.startswith("Scalar"):
        return node.value
    if isinstance(node, str):
        return str(node)
    return node


def load_yaml(path: Path, error: type[Exception]) -> YamlDoc:
    """Read ``path``; a missing file or a syntax error raises ``error`` naming file:line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except UnicodeDecodeError as e:
        raise error(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    return parse_yaml(text, path, error)


def parse_yaml(text: str, path: Path, error: type[Exception]) -> YamlDoc:
    """As load_yaml, for text not (yet) in a file, e.g. a draft in the mapper."""
    try:
        root = YAML(typ="rt").load(text)
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 1
        raise error(f"{path}:{line}: YAML syntax: {e.problem or e.context}") from None
    return YamlDoc(path, root, text)
