"""The ``http`` plugin: a dashboard at ``/``, ``/metrics``, ``/health``, ``/ready``, a JSON API."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from importlib.resources import files
from typing import Any

from aiohttp import web
from loguru import logger
from prometheus_client import CONTENT_TYPE_LATEST

from framework import (
    BotContext,
    Fill,
    IntervalJob,
    ReconcileResult,
    SettingsError,
    StreamStatus,
    hookimpl,
)

from . import api
from .control import ControlCollector, ControlEndpoint, ControlStats
from .health import health_reasons, ready_reasons
from .metrics import BotCollector, registry_for, render
from .settings import MIN_TOKEN_LENGTH, HttpSettings
from .state import EquityHistory, Observed

NAME = "http"
MAX_LINE = 4096  # request line and header field size limit (bytes)
JSON = "application/json"
DASHBOARD = files(__package__).joinpath("dashboard.html").read_bytes()
"""The page at ``/``: static HTML with inline CSS and JS that polls ``/api/*``."""


class HttpPlugin:
    """Serves the bot's state over HTTP on ``host:port`` (loopback by default).

    Every answer is computed from the bot's state when asked; the plugin's hooks only keep
    stream states, recent fills and reconcile results. See ``docs/operations.md``.
    """

    def __init__(self, config: HttpSettings | None = None) -> None:
        self.config = config or HttpSettings()
        token = self.config.control_token
        if token and (len(token) < MIN_TOKEN_LENGTH or not token.isprintable() or " " in token):
            raise SettingsError(
                f"plugins.{NAME}.control_token",
                token,
                f"at least {MIN_TOKEN_LENGTH} printable characters without spaces "
                f"(from TRADELOOP_PLUGINS__HTTP__CONTROL_TOKEN or .secrets.yaml)",
                secret=True,
            )
        self.control = ControlStats()
        """Counters of the control endpoint (unauthorized requests, commands)."""
        self.observed = Observed(self.config.recent)
        self.equity = EquityHistory(self.config.equity_samples)
        self.port: int | None = None
        """The bound port once started (useful with ``port: 0``)."""
        self.requests = 0
        self._ctx: BotContext | None = None
        self._started_at = 0.0

    @staticmethod
    @hookimpl
    def declare_settings() -> type[HttpSettings]:
        """The ``plugins.http`` block."""
        return HttpSettings

    @hookimpl
    def lifespan(self, ctx: BotContext) -> AbstractAsyncContextManager[None]:
        """Listen while the bot runs."""
        return self._lifespan(ctx)

    @contextlib.asynccontextmanager
    async def _lifespan(self, ctx: BotContext) -> AsyncIterator[None]:
        self._ctx = ctx
        self._started_at = ctx.clock.time()
        collector = BotCollector(
            ctx,
            self.observed,
            healthy=lambda: not self.health(),
            ready=lambda: not self.ready(),
        )
        registry = registry_for(collector)
        registry.register(ControlCollector(self.control, lambda: self._ctx))
        app = self._app(registry)
        runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            max_line_size=MAX_LINE,
            max_field_size=MAX_LINE,
            keepalive_timeout=15.0,
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.config.host, self.config.port)
            await site.start()
            bound = runner.addresses
            self.port = int(bound[0][1]) if bound else self.config.port
            logger.info("http: listening on http://{}:{}", self.config.host, self.port)
            yield
        finally:
            await runner.cleanup()
            self.port = None

    # ------------------------------------------------------------------- the routes

    def _app(self, registry: Any) -> web.Application:
        app = web.Application(
            client_max_size=self.config.max_request_bytes, middlewares=[self._errors]
        )
        get = app.router.add_get

        def metrics(_: web.Request) -> web.Response:
            return web.Response(
                body=render(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
            )

        def dashboard(_: web.Request) -> web.Response:
            return web.Response(
                body=DASHBOARD,
                content_type="text/html",
                charset="utf-8",
                headers={"Cache-Control": "no-cache"},
            )

        get("/", self._plain(dashboard), allow_head=False)
        get("/metrics", self._plain(metrics), allow_head=False)
        get("/health", self._plain(self._health), allow_head=False)
        get("/ready", self._plain(self._ready), allow_head=False)
        ctx = self._need_ctx
        seen = self.observed
        views: dict[str, Callable[[], Any]] = {
            "/api/status": self.status,
            "/api/balances": lambda: api.balances(ctx()),
            "/api/positions": lambda: api.positions(ctx()),
            "/api/orders": lambda: api.open_orders(ctx()),
            "/api/fills": lambda: api.fills(seen),
            "/api/reconciles": lambda: api.reconciles(seen),
            "/api/strategies": lambda: api.strategies(ctx()),
            "/api/equity": self.equity_view,
        }
        for path, view in views.items():
            get(path, self._plain(self._json_view(view)), allow_head=False)
        if self.config.control_token:
            ControlEndpoint(
                self.config.control_token, self.config.control_label, ctx, self.control
            ).mount(app)
        return app

    def _plain(
        self, handler: Callable[[web.Request], web.Response]
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            self.requests += 1
            return handler(request)

        return handle

    @staticmethod
    def _json_view(view: Callable[[], Any]) -> Callable[[web.Request], web.Response]:
        def handle(_: web.Request) -> web.Response:
            return web.Response(body=api.encode(view()), content_type=JSON)

        return handle

    @web.middleware
    async def _errors(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Errors as JSON; a failing view answers 500 without its exception text."""
        try:
            return await handler(request)
        except web.HTTPException as exc:
            body = {"error": exc.reason, "status": exc.status}
            return web.Response(
                status=exc.status, body=api.encode(body), content_type=JSON, headers=_allow(exc)
            )
        except Exception:  # noqa: BLE001 - the loop and the bot go on; the log has the detail
            logger.opt(exception=True).bind(plugin=NAME).error(
                "http: {} {} failed", request.method, request.path
            )
            return web.Response(
                status=500, body=api.encode({"error": "internal error"}), content_type=JSON
            )

    def _health(self, _: web.Request) -> web.Response:
        reasons = self.health()
        body = {"healthy": not reasons, "reasons": reasons}
        return web.Response(
            status=503 if reasons else 200, body=api.encode(body), content_type=JSON
        )

    def _ready(self, _: web.Request) -> web.Response:
        reasons = self.ready()
        body = {"ready": not reasons, "reasons": reasons}
        return web.Response(
            status=503 if reasons else 200, body=api.encode(body), content_type=JSON
        )

    # ------------------------------------------------------------------ the figures

    def _need_ctx(self) -> BotContext:
        if self._ctx is None:
            raise RuntimeError("the http plugin is not started")
        return self._ctx

    def health(self) -> list[str]:
        """Why ``/health`` fails now (empty: healthy)."""
        ctx = self._need_ctx()
        return health_reasons(ctx, self.observed, self.config, ctx.clock.time(), self._started_at)

    def ready(self) -> list[str]:
        """Why ``/ready`` fails now (empty: ready)."""
        return ready_reasons(self._need_ctx())

    def status(self) -> dict[str, Any]:
        """The ``/api/status`` body."""
        ctx = self._need_ctx()
        return api.status(
            ctx,
            self.observed,
            now=ctx.clock.time(),
            started_at=self._started_at,
            health=self.health(),
            ready=self.ready(),
        )

    def sample_equity(self) -> None:
        """Keep the kill switch's latest reading of equity and the day's PnL."""
        ctx = self._ctx
        risk = ctx.kill_switch.risk if ctx is not None else None
        if risk is not None:
            self.equity.add(risk.day, risk.asset, risk.at, risk.equity, risk.day_pnl)

    def equity_view(self) -> dict[str, Any]:
        """The ``/api/equity`` body: the day's samples, then the reading now."""
        ctx = self._need_ctx()
        risk = ctx.kill_switch.evaluate() or ctx.kill_switch.risk  # at the last ticks, now
        return {
            **self.equity.as_dict(),
            "now": None if risk is None else risk.as_dict(),
            "kill_switch": ctx.kill_switch.status(),
        }

    # ------------------------------------------------------------------------ hooks

    @hookimpl
    def register_jobs(self) -> list[IntervalJob]:
        """Sample equity for the dashboard's chart."""
        return [
            IntervalJob(name="http_equity", every=self.config.equity_every, func=self.sample_equity)
        ]

    @hookimpl
    def on_stream_state(self, ctx: BotContext, status: StreamStatus) -> None:
        """Keep each stream's state and since when (bot clock)."""
        self.observed.stream(status, ctx.clock.time())

    @hookimpl
    def on_fill(self, fill: Fill) -> None:
        """Keep the recent fills."""
        self.observed.fill(fill)

    @hookimpl
    def on_reconcile_result(self, ctx: BotContext, result: ReconcileResult) -> None:
        """Keep the recent reconcile results and count drift by kind."""
        self.observed.reconcile(result, ctx.clock.time())

    @hookimpl
    def summarize_run(self) -> dict[str, Any]:
        """The ``http`` section of the run summary."""
        return {
            "http": {
                "requests": self.requests,
                "unauthorized": self.control.unauthorized,
                "commands": sum(self.control.commands.values()),
            }
        }


def _allow(exc: web.HTTPException) -> dict[str, str]:
    allow = exc.headers.get("Allow")
    return {"Allow": allow} if allow else {}
