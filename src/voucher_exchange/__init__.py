"""voucher-exchange: trade digital vouchers into money, safely."""

__version__ = "0.1.0"
