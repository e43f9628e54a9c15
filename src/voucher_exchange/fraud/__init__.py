"""Fraud reports and cases: a victim's, an issuer's or the police's report of stolen vouchers, what it matched, and staff's work on it."""
