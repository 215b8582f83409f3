"""A strategy that counts ticks; two instances with different params can coexist."""

from typing import Annotated

import msgspec

from framework import hookimpl


class CounterParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    symbol: str = "BTCUSDT"
    step: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 1


class CounterStrategy:
    def __init__(self, params: CounterParams) -> None:
        self.params = params
        self.count = 0

    @staticmethod
    @hookimpl
    def declare_settings():
        return CounterParams

    @hookimpl
    def on_tick(self, tick):
        if tick.symbol == self.params.symbol:
            self.count += self.params.step

    @hookimpl
    def summarize_run(self):
        return {f"counter:{self.strategy_id}": self.count}
