"""The http plugin is opt-in, loaded by its settings block, and refuses bad settings by key."""

from __future__ import annotations

import pytest

from framework import SettingsError
from framework.loader import load_plugins
from framework.settings import load_settings
from plugins.http import HttpPlugin


def test_disabled_by_default_and_loaded_when_enabled() -> None:
    loaded = load_plugins(load_settings(use_files=False))
    (info,) = [i for i in loaded.infos if i.name == "http"]
    assert (info.source, info.enabled) == ("built-in", False)

    enabled = load_settings(
        use_files=False, overrides={"plugins": {"http": {"enabled": True, "port": 0}}}
    )
    plugin = load_plugins(enabled).pm.get_plugin("http")
    assert isinstance(plugin, HttpPlugin)
    assert (plugin.config.host, plugin.config.port) == ("127.0.0.1", 0)


@pytest.mark.parametrize(
    ("key", "value"),
    [("port", 70000), ("stream_down_after", 0), ("recent", 0), ("max_request_bytes", 10**9)],
)
def test_bad_settings_are_refused_naming_the_key(key: str, value: object) -> None:
    settings = load_settings(
        use_files=False, overrides={"plugins": {"http": {"enabled": True, key: value}}}
    )
    with pytest.raises(SettingsError) as refused:
        load_plugins(settings)
    assert refused.value.key == f"plugins.http.{key}"
