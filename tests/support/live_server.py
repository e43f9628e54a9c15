"""The threaded server lives in the package so the CLI can use it too."""

from voucher_exchange.threaded_server import live_server

__all__ = ["live_server"]
