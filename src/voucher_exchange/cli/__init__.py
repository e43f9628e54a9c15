"""The `voucher-exchange` command line."""
