"""Example strategies shipped with tradeloop (entry points of group ``tradeloop.strategies``).

* ``ma_crossover`` (:mod:`strategies.ma_crossover`): moving-average crossover with market orders.
* ``grid`` (:mod:`strategies.grid`): a ladder of limit orders around the mid price.

Both are meant to be read and copied; docs/strategies.md walks through writing your own.
"""
