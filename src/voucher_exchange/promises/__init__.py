"""The payout-time promise: paid within minutes of the voucher being secured, or the fee back."""
