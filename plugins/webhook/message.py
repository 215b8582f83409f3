"""The daily summary as chat text, and the Slack- and Telegram-shaped JSON bodies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _v(value: Any, default: str = "-") -> str:
    return default if value is None else str(value)


def _signed(value: Any) -> str:
    text = _v(value)
    return text if text.startswith(("-", "+")) or text in ("-", "0") else f"+{text}"


def summary_text(summary: Mapping[str, Any]) -> str:
    """A few plain lines a person reads on a phone."""
    asset = _v(summary.get("equity_asset"), "")
    fees = summary.get("fees") or {}
    fee_text = ", ".join(f"{v} {k}" for k, v in fees.items()) or "0"
    uptime = summary.get("uptime")
    uptime_text = f"{float(uptime) * 100:.2f} %" if isinstance(uptime, (int, float)) else "-"
    return "\n".join(
        [
            f"tradeloop daily report {_v(summary.get('day'))} (UTC)",
            f"Equity {_v(summary.get('equity_start'))} -> {_v(summary.get('equity_end'))} "
            f"{asset} ({_signed(summary.get('equity_change'))})",
            f"Net PnL {_signed(summary.get('net_pnl'))} {asset} "
            f"(realized {_signed(summary.get('realized_pnl'))}, fees {fee_text})",
            f"Trades {_v(summary.get('trades'), '0')}, notional {_v(summary.get('notional'))}",
            f"Open positions {_v(summary.get('open_positions'), '0')} "
            f"(unrealized {_signed(summary.get('unrealized_pnl'))})",
            f"Reconciles {_v(summary.get('reconciles'), '0')}, drift incidents "
            f"{_v(summary.get('drift_incidents'), '0')}, repaired "
            f"{_v(summary.get('mismatches_repaired'), '0')}",
            f"Streams: {_v(summary.get('disconnects'), '0')} disconnects, "
            f"{_v(summary.get('stale'), '0')} stale",
            f"Uptime {uptime_text}, starts {_v(summary.get('runs_started'), '0')}, "
            f"plugin errors {_v(summary.get('plugin_errors'), '0')}",
        ]
    )


def slack_body(summary: Mapping[str, Any]) -> dict[str, Any]:
    """Slack incoming-webhook JSON (also Mattermost, Rocket.Chat, Discord ``/slack``)."""
    return {"text": summary_text(summary)}


def telegram_body(summary: Mapping[str, Any], chat_id: str) -> dict[str, Any]:
    """Telegram Bot API ``sendMessage`` JSON (plain text, no parse mode to escape for)."""
    return {
        "chat_id": chat_id,
        "text": summary_text(summary),
        "disable_web_page_preview": True,
    }
