"""A settings file that is not valid YAML: one line naming the file, the line and the column."""

from __future__ import annotations

from pathlib import Path

from tests.support import run_cli


def test_a_yaml_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text("default:\n  exchange:\n    name: sim\n   symbols: [BTCUSDT\n")
    result = run_cli("check", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"tradeloop: error: settings: {settings}, line 4, column 4: expected <block end>, but "
        "found '<block mapping start>' (while parsing a block mapping at line 2, column 3)"
    ]


def test_a_broken_secrets_file_is_located_without_showing_a_secret(tmp_path: Path) -> None:
    (tmp_path / "settings.yaml").write_text("default:\n  exchange: {name: sim}\n")
    secrets = tmp_path / ".secrets.yaml"
    secrets.write_text('production:\n  exchange:\n    api_key: "s3cr3t-key-value\n')
    result = run_cli("check", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"tradeloop: error: settings: {secrets}, line 4, column 1: ")
    assert "s3cr3t" not in result.stdout + result.stderr
