"""The ``plugins.http`` settings block."""

from __future__ import annotations

from typing import Annotated

import msgspec

from framework.setting_types import Seconds, SecondsOrZero

MIN_TOKEN_LENGTH = 16

Port = Annotated[int, msgspec.Meta(ge=0, le=65535)]
"""A TCP port; 0 picks a free one (tests)."""


class HttpSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Where the HTTP server listens, and the bounds ``/health`` checks against."""

    host: Annotated[str, msgspec.Meta(min_length=1, max_length=255)] = "127.0.0.1"
    """Address to bind. The default is loopback only; the read-only API has no
    authentication, so expose it beyond the host only behind something that has."""
    port: Port = 9464
    """Port to bind (0: a free port, see ``HttpPlugin.port``)."""
    stream_down_after: Seconds = 60.0
    """``/health`` fails once a stream has been disconnected or stale this long. The connector
    marks a silent connection stale after its ``stale_after``; keep this at most that long and
    a dead stream shows within twice the connector's bound."""
    reconcile_overdue_after: SecondsOrZero = 0.0
    """``/health`` fails when the last good reconcile is older than this; 0: twice the
    reconciliation interval."""
    recent: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 100
    """How many recent fills and reconcile results the API keeps and returns."""
    equity_every: Seconds = 10.0
    """Seconds between the samples of equity and the day's PnL the dashboard charts."""
    equity_samples: Annotated[int, msgspec.Meta(ge=10, le=100_000)] = 8640
    """Most samples kept for the day's chart (a day at 10 s); beyond it, every other one is
    dropped."""
    max_request_bytes: Annotated[int, msgspec.Meta(ge=1024, le=1_048_576)] = 8192
    """Largest request body accepted (413 beyond); only ``POST /api/control`` reads one."""
    control_token: str = ""
    """Bearer token of the remote-control endpoint ``POST /api/control``; empty (the default):
    no control endpoint at all, only the read-only API. At least 16 characters. Secret: set
    ``TRADELOOP_PLUGINS__HTTP__CONTROL_TOKEN`` or put it in ``.secrets.yaml``."""
    control_label: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] = "operator"
    """Who the token stands for: journaled and logged with every command sent with it."""
