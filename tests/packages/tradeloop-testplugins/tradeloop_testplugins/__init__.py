"""Test plugins for tradeloop's loader: each module misbehaves in one way."""
