"""The reference consumer plus building the same ``Decimal``s tradeloop builds per message.

The peers' ``aiohttp_cache.py`` (aiohttp + orjson + dict cache + one pluggy hook), unchanged,
except that before its cache update each money field tradeloop keeps as ``Decimal`` is turned
into one: per ``ACCOUNT_UPDATE`` balance ``wb`` and ``cw``, per position ``pa``, ``ep``, ``up``
and ``bep`` (30 on the harness's 5 + 5 entries); per bookTicker ``b``, ``B``, ``a``, ``A``. Its
CPU per message minus the reference's is the cost of those ``Decimal``s, measured in the same
run (``bench_hot_path.py`` runs it as ``reference_decimal``). Takes the harness's flags.
"""

from __future__ import annotations

import os
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PEERS = Path(os.environ.get("PEERS_DIR", ROOT.parent / "shared" / "bench" / "peers"))
if str(PEERS) not in sys.path:
    sys.path.insert(0, str(PEERS))

import aiohttp_cache  # noqa: E402 - the peers' reference consumer, found through PEERS
import common  # noqa: E402
import hooks  # noqa: E402

_reference_dispatch = hooks.make_dispatch


def make_dispatch(mode: str) -> Any:
    """The reference's dispatch, after the message's money fields became ``Decimal``s."""
    inner = _reference_dispatch(mode)
    if mode == "account":

        def dispatch(evt: dict[str, Any], state: Any) -> None:
            account = evt["a"]
            for b in account["B"]:
                b["wb"] = Decimal(b["wb"])
                b["cw"] = Decimal(b["cw"])
            for p in account["P"]:
                p["pa"] = Decimal(p["pa"])
                p["ep"] = Decimal(p["ep"])
                p["up"] = Decimal(p["up"])
                bep = p.get("bep")
                p["bep"] = Decimal(bep) if bep else None
            inner(evt, state)

    else:

        def dispatch(evt: dict[str, Any], state: Any) -> None:
            evt["b"] = Decimal(evt["b"])
            evt["B"] = Decimal(evt["B"])
            evt["a"] = Decimal(evt["a"])
            evt["A"] = Decimal(evt["A"])
            inner(evt, state)

    return dispatch


def main() -> None:
    """Parse the harness's flags, run the reference with ``Decimal``s, print one JSON line."""
    hooks.make_dispatch = make_dispatch
    p = common.parser(__doc__)
    p.add_argument("--stage", default="cache", choices=("cache",))
    p.add_argument("--text", action="store_true", help="decode_text=True (str frames)")
    args = p.parse_args()
    st = common.run(lambda: aiohttp_cache.consume(args), args)
    st.emit(args, "reference_decimal", {})


if __name__ == "__main__":
    main()
