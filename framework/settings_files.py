"""Reading a settings file: a YAML syntax error names the file, the line and the column."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from framework.errors import SettingsError, TradeloopError


class SettingsSyntaxError(SettingsError):
    """A settings file that is not valid YAML (exit 2), located to its line and column."""

    def __init__(self, path: Path, line: int | None, column: int | None, problem: str) -> None:
        where = str(path) if line is None else f"{path}, line {line}, column {column}"
        self.key = str(path)
        self.value = "<unparsable>"
        self.allowed = "valid YAML"
        self.line = line
        self.column = column
        TradeloopError.__init__(self, f"settings: {where}: {problem}")


def read_yaml(path: Path) -> Any:
    """The parsed content of ``path``; ``SettingsSyntaxError`` when it is not valid YAML."""
    text = path.read_text(encoding="utf-8")
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "not valid YAML"
        if exc.context and exc.problem and exc.context_mark is not None:
            context = exc.context_mark
            problem += f" ({exc.context} at line {context.line + 1}, column {context.column + 1})"
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        raise SettingsSyntaxError(path, line, column, problem) from None
    except yaml.YAMLError as exc:
        raise SettingsSyntaxError(path, None, None, str(exc).replace("\n", " ")) from None
