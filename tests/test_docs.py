"""Docs that must not drift from the code."""

from __future__ import annotations

import re

from framework.loader import new_plugin_manager
from framework.settings import DEFAULT_HOOK_TIMEOUTS
from tests.support import ROOT


def hook_names() -> list[str]:
    return sorted(new_plugin_manager().hook.__dict__)


def test_every_hook_is_documented_with_its_signature() -> None:
    text = (ROOT / "docs" / "hooks.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"^### (\w+\([^)]*\))$", text, re.M))
    pm = new_plugin_manager()
    for name in hook_names():
        spec = getattr(pm.hook, name).spec
        signature = f"{name}({', '.join(spec.argnames)})"
        assert signature in headings, f"docs/hooks.md lacks '### {signature}'"
    documented = {h.split("(")[0] for h in headings}
    assert documented == set(hook_names()), "docs/hooks.md documents a hook that does not exist"


def test_every_hook_has_a_default_time_budget() -> None:
    assert set(DEFAULT_HOOK_TIMEOUTS) == set(hook_names()) - {
        "declare_settings",
        "validate_settings",
        "register_commands",
    }


def test_every_hookspec_docstring_states_budget_and_errors() -> None:
    from framework import hookspecs

    for name in hook_names():
        doc = getattr(hookspecs, name).__doc__ or ""
        assert "Budget" in doc or "budget" in doc, name
        assert "Called" in doc, name


def test_the_plugin_authors_reference_is_generated_from_the_code() -> None:
    from framework import api_reference

    page = (ROOT / "docs" / "api-reference.md").read_text(encoding="utf-8")
    assert page == api_reference.render(), f"run: {api_reference.COMMAND}"


def test_the_plugin_authors_reference_lists_every_field_and_member() -> None:
    import inspect

    import msgspec.inspect

    from framework import api_reference

    page = (ROOT / "docs" / "api-reference.md").read_text(encoding="utf-8")
    for cls in api_reference.TYPES:
        section = page.split(f"### `{cls.__name__}`\n", 1)[1].split("\n### ", 1)[0]
        info = msgspec.inspect.type_info(cls)
        for field in getattr(info, "fields", ()):
            assert f"| `{field.name}` |" in section, f"{cls.__name__}.{field.name}"
    for cls in api_reference.SURFACES:
        section = page.split(f"## `{cls.__name__}`\n", 1)[1].split("\n## ", 1)[0]
        public = [n for n, _ in inspect.getmembers(cls) if not n.startswith("_")]
        for name in public:
            assert re.search(rf"\| `(async )?{name}\b", section), f"{cls.__name__}.{name}"
