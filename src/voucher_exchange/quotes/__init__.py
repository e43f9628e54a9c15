"""Quotes: binding, single-use offers for one brand and face value."""
