"""Fraud reports and cases: reports of stolen vouchers, what they matched, and staff's work on them."""
