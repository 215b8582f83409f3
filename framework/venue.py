"""Which kind of venue the settings trade on: the simulator, a testnet, or a live account.

``exchange.name: sim`` is SIMULATED; any other exchange is TESTNET while ``exchange.testnet``
is true and LIVE otherwise (real money). The start banner, the status header, the journal's
default file and the ``--live`` guard of ``tradeloop run`` all read it from here.
"""

from __future__ import annotations

from enum import StrEnum

from framework.settings import Settings

SIMULATOR_EXCHANGE = "sim"


class Venue(StrEnum):
    """SIMULATED, TESTNET or LIVE (the value is what banners show)."""

    SIMULATED = "SIMULATED"
    TESTNET = "TESTNET"
    LIVE = "LIVE"

    @property
    def slug(self) -> str:
        """Lower-case name for file names: ``sim``, ``testnet``, ``live``."""
        return {"SIMULATED": "sim", "TESTNET": "testnet", "LIVE": "live"}[self.value]


def venue_of(settings: Settings) -> Venue:
    """The venue ``settings`` trade on."""
    exchange = settings.exchange
    if exchange.name == SIMULATOR_EXCHANGE:
        return Venue.SIMULATED
    return Venue.TESTNET if exchange.testnet else Venue.LIVE


def banner(settings: Settings) -> str:
    """The start banner's one line: venue, exchange and settings environment."""
    venue = venue_of(settings)
    exchange = settings.exchange
    where = exchange.name + (" (testnet)" if venue is Venue.TESTNET else "")
    warning = " - REAL MONEY" if venue is Venue.LIVE else ""
    return f"tradeloop: {venue.value}{warning}: exchange {where}, env {settings.env}"
