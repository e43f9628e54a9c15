"""The interfaces to the outside world, together: issuer, payout rail, identity vendor, mailer.

Each is a Protocol with the values it speaks in. Capabilities depend on these; the adapters
(`issuers/http.py`, `payouts/http_rail.py`, `identity/http.py`, `notifications/smtp.py`, and the
sandboxes' in-process clients) implement them, and `bootstrap` picks one per port and hands it
down in the `Context`. Nothing here imports a capability package.
"""
