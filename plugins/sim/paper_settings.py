"""Settings checks of ``exchange.name: paper`` that span blocks (the ``sim`` plugin's part)."""

from __future__ import annotations

from framework import Settings, SettingsError


def check_paper_exchange(settings: Settings) -> None:
    """The paper exchange runs inside the bot: ``exchange.rest_url``/``stream_url`` would point
    the connector elsewhere, so they must be empty (the venue is ``plugins.sim.paper.*``)."""
    exchange = settings.exchange
    for key in ("rest_url", "stream_url"):
        value = getattr(exchange, key)
        if value:
            raise SettingsError(
                f"exchange.{key}",
                value,
                "empty when exchange.name is paper: the paper exchange runs inside the bot; "
                f"set the venue's public URL as plugins.sim.paper.{key}",
            )
