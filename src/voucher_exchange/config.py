"""Settings, read once from the environment (`VX_*`) and CLI flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from voucher_exchange.errors import InvalidInput

JURISDICTIONS = {"KR": "KRW", "US": "USD"}


DUAL_APPROVAL_DEFAULTS = {"KRW": 1_000_000, "USD": 100_000}


@dataclass(frozen=True)
class Settings:
    """Everything a process needs to know about where it runs."""

    database_url: str = "sqlite:///var/voucher-exchange.db"
    var_dir: Path = field(default_factory=lambda: Path("var"))
    jurisdiction: str = "KR"
    # Base URL of the sandboxes (issuer, rail, identity); None = mounted in this process.
    sandbox_url: str | None = None
    http_timeout_seconds: float = 5.0
    job_lease_seconds: float = 30.0
    job_max_attempts: int = 12
    worker_poll_seconds: float = 0.2
    # A worker thread takes up to this many ready trades at once and runs each step's database
    # work for all of them in one transaction (their outside calls concurrently); 1 = one by one.
    worker_batch_size: int = 8
    quote_ttl_seconds: int = 15 * 60
    demo: bool = False
    # E-mail to sellers: off unless an SMTP host is set (`serve --demo` runs a local one).
    smtp_host: str | None = None
    smtp_port: int = 25
    mail_from: str = "voucher-exchange <no-reply@voucher-exchange.test>"
    # Where sellers reach the site (links in e-mails).
    public_url: str = "http://127.0.0.1:8000"
    # How long after payout an issuer's chargeback can still be clawed back from the seller
    # (printed on every receipt as its liability end).
    liability_window_days: int = 90
    # The legal name of whoever runs this exchange, printed on receipts when set.
    operator_name: str | None = None
    # How often the worker reads the issuers' chargeback feeds.
    chargeback_poll_seconds: float = 20.0
    # How often the worker evaluates the issuer guard's rules (also after each issuer statement).
    issuer_guard_seconds: float = 300.0
    # How often the worker deletes risk-window counters and links older than 31 days.
    risk_window_prune_seconds: float = 3600.0
    # Approving a held trade above this face value (minor units) takes two different reviewers;
    # None = the jurisdiction's default (₩1,000,000 / $1,000).
    dual_approval_above: int | None = None
    # How far apart a statement line's time and ours may be and still match (reconciliation).
    reconcile_tolerance_seconds: int = 15 * 60
    # Webhooks may go to private and loopback addresses, and over plain http to 127.0.0.1,
    # localhost and the sandbox (`serve --demo` and tests only; never in production).
    webhook_private_targets: bool = False
    # How long a partner's endpoint has to answer; keep it below job_lease_seconds, so no second
    # worker sends the same attempt while the first still waits.
    webhook_timeout_seconds: float = 10.0
    # The banks' nightly window (local time) until the operator sets the promise's own: payouts
    # queue in it. "off" (or empty) = none; the tests run with none, whatever the time of day.
    bank_window: str = "23:30-00:30"

    @property
    def dual_approval_threshold(self) -> int:
        """Face value (minor units) above which approval needs a second reviewer."""
        if self.dual_approval_above is not None:
            return self.dual_approval_above
        return DUAL_APPROVAL_DEFAULTS[self.currency]

    # Idempotency records (a keyed hash of the body and the first response) are kept this long.
    idempotency_ttl_seconds: int = 24 * 3600
    # API tokens expire after this many days without use (each use pushes the expiry on).
    api_token_days: int = 30
    # Scales every abuse limit (security/throttle.py); only load tests and benches raise it.
    rate_limit_multiplier: int = 1
    # Requests one API key may make per minute, on top of the account's own limits (apikeys/).
    api_key_requests_per_minute: int = 600
    # Staff must set up two-factor sign-in before any staff page or API answers them.
    staff_two_factor: bool = True
    # Concurrent password hashes (argon2id, 64 MiB each); more are refused at once with 429 server_busy.
    password_hash_slots: int = 1
    # Largest request body the app reads, in bytes.
    max_body_bytes: int = 1024 * 1024
    # How often the worker signs an anchor of the audit chain's head (docs/reconciliation-and-audit.md);
    # `audit verify` fails when entries older than twice this are not anchored.
    audit_anchor_seconds: float = 15 * 60.0
    # Where the signed anchors are written, one file each (None = var/audit-anchors).
    audit_anchor_dir: Path | None = None
    # The anchor-signing Ed25519 private key (None = var/keys/audit-anchor.key); never in the database.
    audit_anchor_key: Path | None = None
    # Public keys (base64url, raw Ed25519) `audit verify` trusts; empty = the local key's public half.
    audit_anchor_public_keys: tuple[str, ...] = ()
    # KYC tier 2: the largest identity document a seller may upload, in bytes (JPEG, PNG or PDF).
    identity_document_max_bytes: int = 5 * 1024 * 1024
    # Days an identity document's file is kept after the reviewer's decision (the decision row stays).
    identity_document_retention_days: int = 30
    # How often the worker deletes identity documents past their retention.
    identity_document_purge_seconds: float = 3600.0

    @property
    def currency(self) -> str:
        """The payout currency of this deployment."""
        return JURISDICTIONS[self.jurisdiction]

    @property
    def key_path(self) -> Path:
        """Where the data-encryption master key lives."""
        return self.var_dir / "keys" / "master.key"

    @property
    def receipt_key_dir(self) -> Path:
        """Where the receipt-signing private keys live (one file per key, mode 0600)."""
        return self.var_dir / "keys" / "receipts"

    @property
    def identity_document_dir(self) -> Path:
        """Where uploaded identity documents are kept, each an encrypted file (0600)."""
        return self.var_dir / "identity-documents"

    @property
    def audit_anchor_path(self) -> Path:
        """The directory of signed audit anchors (one file per anchor, never rewritten)."""
        return self.audit_anchor_dir or self.var_dir / "audit-anchors"

    @property
    def audit_anchor_key_path(self) -> Path:
        """The file of the audit anchors' Ed25519 signing key (0600, made on the first anchor)."""
        return self.audit_anchor_key or self.var_dir / "keys" / "audit-anchor.key"

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with the given fields replaced (None values are ignored)."""
        kept = {k: v for k, v in changes.items() if v is not None}
        return replace(self, **kept)  # type: ignore[arg-type]


def load_settings() -> Settings:
    """Settings from `VX_*` environment variables, defaults otherwise."""
    env = os.environ
    var_dir = Path(env.get("VX_VAR_DIR", "var"))
    jurisdiction = env.get("VX_JURISDICTION", "KR").upper()
    if jurisdiction not in JURISDICTIONS:
        raise InvalidInput(
            "jurisdiction_unsupported", f"Jurisdiction must be one of {sorted(JURISDICTIONS)}."
        )
    return Settings(
        database_url=env.get("VX_DATABASE_URL", f"sqlite:///{var_dir}/voucher-exchange.db"),
        var_dir=var_dir,
        jurisdiction=jurisdiction,
        sandbox_url=env.get("VX_SANDBOX_URL") or None,
        http_timeout_seconds=float(env.get("VX_HTTP_TIMEOUT_SECONDS", "5")),
        job_lease_seconds=float(env.get("VX_JOB_LEASE_SECONDS", "30")),
        job_max_attempts=int(env.get("VX_JOB_MAX_ATTEMPTS", "12")),
        worker_poll_seconds=float(env.get("VX_WORKER_POLL_SECONDS", "0.2")),
        worker_batch_size=int(env.get("VX_WORKER_BATCH_SIZE", str(Settings.worker_batch_size))),
        smtp_host=env.get("VX_SMTP_HOST") or None,
        smtp_port=int(env.get("VX_SMTP_PORT", "25")),
        mail_from=env.get("VX_MAIL_FROM", Settings.mail_from),
        public_url=env.get("VX_PUBLIC_URL", Settings.public_url),
        liability_window_days=int(env.get("VX_LIABILITY_WINDOW_DAYS", str(Settings.liability_window_days))),
        chargeback_poll_seconds=float(
            env.get("VX_CHARGEBACK_POLL_SECONDS", str(Settings.chargeback_poll_seconds))
        ),
        issuer_guard_seconds=float(env.get("VX_ISSUER_GUARD_SECONDS", str(Settings.issuer_guard_seconds))),
        risk_window_prune_seconds=float(
            env.get("VX_RISK_WINDOW_PRUNE_SECONDS", str(Settings.risk_window_prune_seconds))
        ),
        dual_approval_above=int(env["VX_DUAL_APPROVAL_ABOVE"]) if env.get("VX_DUAL_APPROVAL_ABOVE") else None,
        reconcile_tolerance_seconds=int(env.get("VX_RECONCILE_TOLERANCE_SECONDS", "900")),
        webhook_private_targets=env.get("VX_WEBHOOK_PRIVATE_TARGETS", "0") == "1",
        webhook_timeout_seconds=float(
            env.get("VX_WEBHOOK_TIMEOUT_SECONDS", str(Settings.webhook_timeout_seconds))
        ),
        operator_name=env.get("VX_OPERATOR_NAME") or None,
        bank_window=env.get("VX_BANK_WINDOW", Settings.bank_window),
        idempotency_ttl_seconds=int(
            env.get("VX_IDEMPOTENCY_TTL_SECONDS", str(Settings.idempotency_ttl_seconds))
        ),
        api_token_days=int(env.get("VX_API_TOKEN_DAYS", str(Settings.api_token_days))),
        rate_limit_multiplier=int(env.get("VX_RATE_LIMIT_MULTIPLIER", "1")),
        api_key_requests_per_minute=int(
            env.get("VX_API_KEY_REQUESTS_PER_MINUTE", str(Settings.api_key_requests_per_minute))
        ),
        staff_two_factor=env.get("VX_STAFF_TWO_FACTOR", "1") != "0",
        password_hash_slots=int(env.get("VX_PASSWORD_HASH_SLOTS", str(Settings.password_hash_slots))),
        max_body_bytes=int(env.get("VX_MAX_BODY_BYTES", str(Settings.max_body_bytes))),
        audit_anchor_seconds=float(env.get("VX_AUDIT_ANCHOR_SECONDS", str(Settings.audit_anchor_seconds))),
        audit_anchor_dir=Path(env["VX_AUDIT_ANCHOR_DIR"]) if env.get("VX_AUDIT_ANCHOR_DIR") else None,
        audit_anchor_key=Path(env["VX_AUDIT_ANCHOR_KEY"]) if env.get("VX_AUDIT_ANCHOR_KEY") else None,
        identity_document_max_bytes=int(
            env.get("VX_IDENTITY_DOCUMENT_MAX_BYTES", str(Settings.identity_document_max_bytes))
        ),
        identity_document_retention_days=int(
            env.get("VX_IDENTITY_DOCUMENT_RETENTION_DAYS", str(Settings.identity_document_retention_days))
        ),
        identity_document_purge_seconds=float(
            env.get("VX_IDENTITY_DOCUMENT_PURGE_SECONDS", str(Settings.identity_document_purge_seconds))
        ),
        audit_anchor_public_keys=tuple(
            k.strip() for k in env.get("VX_AUDIT_ANCHOR_PUBLIC_KEYS", "").split(",") if k.strip()
        ),
    )
