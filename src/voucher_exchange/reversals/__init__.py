"""Reversals: the issuer takes a voucher's value back after we paid; a bounded, evidenced clawback."""
