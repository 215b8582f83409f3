"""The ``backtest`` plugin: ``tradeloop backtest`` over candle data on the simulator's matching
engine, through the same core as a live run, and ``tradeloop download-data``."""

from .plugin import BacktestPlugin

__all__ = ["BacktestPlugin"]
