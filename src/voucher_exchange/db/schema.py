"""Every table of the exchange, in one place: the map of what is stored.

Constraints here are the last line of defence for the invariants in docs/api.md ("What always holds"):
unique voucher claims, one payout per trade, unique idempotency keys, positive
transfer amounts between two different accounts, post/void at most once per pending.

The migrations must build exactly this, on both databases (tests/db/test_schema_matches_migrations.py):
a change here needs a revision that makes it (docs/architecture.md, "One schema").
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from voucher_exchange.db.types import UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = String(36)
# SQLite needs plain INTEGER for rowid autoincrement; PostgreSQL gets BIGINT.
AutoId = BigInteger().with_variant(Integer(), "sqlite")

users = Table(
    "users",
    metadata,
    Column("id", ID, primary_key=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("roles", String(100), nullable=False, server_default=""),
    Column("kyc_tier", Integer, nullable=False, server_default="0"),
    Column("legal_name", String(200)),
    Column("birth_date", Date),
    Column("phone", String(40)),
    Column("identity_status", String(20), nullable=False, server_default="none"),
    Column("identity_reason", String(60)),
    # ISO 3166 alpha-2, from the identity check (the deployment's country for a domestic check).
    Column("nationality", String(2)),
    # The language e-mails are written in (the last one the seller chose on the site).
    Column("language", String(5), nullable=False, server_default="ko"),
    Column("created_at", UTCDateTime, nullable=False),
    # When the owner proved they read mail at `email` (a link we sent); none until then.
    Column("email_verified_at", UTCDateTime),
    # Log-in lockouts count per password generation: a reset starts a new one (security/throttle.py).
    Column("password_changed_at", UTCDateTime),
    # An erased account: the e-mail is a tombstone, nobody can log in (docs/privacy.md).
    Column("deleted_at", UTCDateTime),
    # The login was closed instead (no sign-in; the record and what it owes stay; docs/privacy.md).
    Column("closed_at", UTCDateTime),
)

# One person behind several accounts: keyed fingerprints (the vault's, never the values) of a
# verified identity (legal name + birth date) and of a closed login's e-mail address. Accounts
# sharing one settle each other's debts after reversals (identity/links.py).
person_links = Table(
    "person_links",
    metadata,
    Column("kind", String(10), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), primary_key=True, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("kind IN ('identity', 'email')", name="kind"),
)

# Single-use links mailed to an account (password reset, e-mail verification). Only a keyed
# fingerprint of the token is kept; the token itself is encrypted for the mail job and
# erased once the mail is sent.
account_tokens = Table(
    "account_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False, index=True),
    Column("purpose", String(20), nullable=False),
    # The address the link was sent to (a new address being verified, for a change of e-mail).
    Column("email", String(254), nullable=False),
    Column("token_enc", LargeBinary),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime),
)

# Staff two-factor: a TOTP secret (encrypted with the vault) and the last time step used,
# so a code cannot be replayed within its window.
staff_totp = Table(
    "staff_totp",
    metadata,
    Column("user_id", ID, ForeignKey("users.id"), primary_key=True),
    Column("secret_enc", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("enrolled_at", UTCDateTime),
    Column("last_step", BigInteger, nullable=False, server_default="0"),
    # The token hash of the session that began an unconfirmed enrolment: only it may confirm
    # or start over while it lives (a second page load never replaces the secret).
    Column("begun_by", String(64)),
)

# One-time recovery codes for staff two-factor, stored as keyed fingerprints.
totp_recovery_codes = Table(
    "totp_recovery_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False, index=True),
    Column("used_at", UTCDateTime),
)

# Identity is an event: every check of a person, in order; `users` holds the latest outcome.
identity_checks = Table(
    "identity_checks",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False),
    Column("checked_at", UTCDateTime, nullable=False),
    Column("status", String(20), nullable=False),
    Column("reason", String(60)),
    Column("legal_name", String(200), nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("nationality", String(2)),
    # The verified legal name differs from the one verified before (tier dropped, accounts re-checked).
    Column("name_changed", Boolean, nullable=False, server_default="0"),
    Column("tier_before", Integer, nullable=False),
    Column("tier_after", Integer, nullable=False),
    Index("ix_identity_checks_user", "user_id", "checked_at"),
)

# Abuse limits: one fixed-window counter per (limit, subject, window). The subject is a
# keyed fingerprint (of an e-mail, an address, an account), never the value itself.
rate_counters = Table(
    "rate_counters",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("subject", String(64), primary_key=True),
    Column("window_start", UTCDateTime, primary_key=True),
    Column("count", Integer, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    # Every token expires; API tokens' expiry moves on when they are used.
    Column("expires_at", UTCDateTime),
    # api | web: which lifetime applies (web sessions do not slide).
    Column("kind", String(8), nullable=False, server_default="api"),
    # Issued after a right two-factor code: only such tokens reach staff routes.
    Column("second_factor", Boolean, nullable=False, server_default="0"),
    # The address signed in from (the conflict check compares a reviewer's with a trade's).
    Column("client_ip", String(64)),
)

brands = Table(
    "brands",
    metadata,
    Column("slug", String(60), primary_key=True),
    Column("currency", String(3), nullable=False),
    Column("name_ko", String(200), nullable=False),
    Column("name_en", String(200), nullable=False),
    Column("issuer", String(60), nullable=False),
    Column("status", String(20), nullable=False),
    Column("face_values", JSON, nullable=False),
    Column("code_format", JSON, nullable=False),
    Column("scam_favoured", Boolean, nullable=False, server_default="0"),
    Column("updated_at", UTCDateTime, nullable=False),
    # Face value (minor units) bought per day at most, set by the issuer guard; NULL: no cap.
    Column("daily_cap", BigInteger),
)

brand_rates = Table(
    "brand_rates",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("brand_slug", String(60), ForeignKey("brands.slug"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("bands", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(254), nullable=False),
    UniqueConstraint("brand_slug", "version", name="uq_brand_rates_brand_version"),
)

quotes = Table(
    "quotes",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False),
    Column("brand_slug", String(60), ForeignKey("brands.slug"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("face_value", BigInteger, nullable=False),
    Column("rate_version", Integer, nullable=False),
    Column("rate_bps", Integer, nullable=False),
    Column("fee", BigInteger, nullable=False),
    Column("payout", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    # Single use: set once, by a conditional update, when a trade takes the quote.
    Column("trade_id", ID, unique=True),
    CheckConstraint("face_value > 0 AND payout > 0 AND fee >= 0", name="amounts"),
    CheckConstraint("fee + payout = face_value", name="fee_plus_payout"),
)

payout_destinations = Table(
    "payout_destinations",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("bank_code", String(20), nullable=False),
    Column("account_number_enc", LargeBinary, nullable=False),
    Column("account_fingerprint", String(64), nullable=False, index=True),
    Column("account_last4", String(4), nullable=False),
    Column("holder_name", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # The account preselected when selling; at most one per seller is set (by one UPDATE).
    Column("is_default", Boolean, nullable=False, server_default="0"),
    # Removed by the seller: no longer offered, kept because trades and payouts refer to it.
    Column("removed_at", UTCDateTime),
)

# A batch of vouchers a seller previewed, then sold once (the one-time token is its id).
trade_batches = Table(
    "trade_batches",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False, index=True),
    Column("status", String(20), nullable=False),
    Column("brand_slug", String(64), nullable=False),
    Column("face_value", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("method", String(30), nullable=False),
    Column("acquired_on", Date, nullable=False),
    Column("payout_destination_id", ID, nullable=False),
    Column("line_count", Integer, nullable=False),
    # What each voucher pays at the previewed rate: selling refuses if the rate moved since.
    Column("payout_each", BigInteger, nullable=False),
    # The codes, encrypted, only between preview and submit; erased when the batch is sold.
    Column("lines_enc", LargeBinary),
    Column("created_at", UTCDateTime, nullable=False),
    Column("submitted_at", UTCDateTime),
    Column("summarized_at", UTCDateTime),
)

trade_batch_lines = Table(
    "trade_batch_lines",
    metadata,
    Column("batch_id", ID, ForeignKey("trade_batches.id"), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("masked", String(12), nullable=False),
    Column("trade_id", ID, unique=True),
    Column("error_code", String(60)),
    Column("error_message", Text),
)

trades = Table(
    "trades",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False),
    Column("quote_id", ID, ForeignKey("quotes.id"), nullable=False, unique=True),
    Column("brand_slug", String(60), ForeignKey("brands.slug"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("face_value", BigInteger, nullable=False),
    Column("rate_bps", Integer, nullable=False),
    Column("fee", BigInteger, nullable=False),
    Column("payout", BigInteger, nullable=False),
    Column("status", String(20), nullable=False),
    Column("voucher_enc", LargeBinary, nullable=False),
    Column("voucher_fingerprint", String(64), nullable=False, index=True),
    Column("voucher_last4", String(4), nullable=False),
    Column("acquisition_method", String(20), nullable=False),
    Column("acquired_on", Date, nullable=False),
    Column("payout_destination_id", ID, ForeignKey("payout_destinations.id"), nullable=False),
    Column("client_ip", String(64)),
    # Risk features: the seller's device (X-Device-Id), the payout account's keyed
    # fingerprint, and when the issuer says the voucher was issued.
    Column("device_id", String(64)),
    Column("account_fingerprint", String(64)),
    Column("issued_at", UTCDateTime),
    Column("issuer_answer", JSON),
    Column("secured_at", UTCDateTime),
    Column("redemption_ref", String(100)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_trades_user_created", "user_id", "created_at"),
    Index("ix_trades_status", "status"),
    Index("ix_trades_device_created", "device_id", "created_at"),
    Index("ix_trades_ip_created", "client_ip", "created_at"),
    Index("ix_trades_account_created", "account_fingerprint", "created_at"),
    Index("ix_trades_brand_created", "brand_slug", "created_at"),
    Index("ix_trades_created", "created_at"),
)

LEFT_REVIEW = "from_status = 'in_review'"

trade_events = Table(
    "trade_events",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("trade_id", ID, ForeignKey("trades.id"), nullable=False, index=True),
    Column("at", UTCDateTime, nullable=False),
    Column("from_status", String(20)),
    Column("to_status", String(20), nullable=False),
    Column("actor", String(254), nullable=False),
    Column("note", Text),
    # Each trade's history is its own hash chain (audit/chain.py): an edited, deleted or
    # reordered event is found by `audit verify` without a global lock on every step.
    Column("prev_hash", String(64)),
    Column("hash", String(64)),
    # The latest reviews' ends (the wait a held seller is told, on every quote), found without
    # reading a history that grows with every trade (migration 0034).
    Index(
        "ix_trade_events_left_review",
        "id",
        sqlite_where=text(LEFT_REVIEW),
        postgresql_where=text(LEFT_REVIEW),
    ),
)

# One row per voucher fingerprint, ever: the database decides who sold a code first.
voucher_claims = Table(
    "voucher_claims",
    metadata,
    Column("fingerprint", String(64), primary_key=True),
    Column("trade_id", ID, ForeignKey("trades.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

decisions = Table(
    "decisions",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("trade_id", ID, ForeignKey("trades.id"), nullable=False, index=True),
    Column("stage", String(20), nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("reasons", JSON, nullable=False),
    Column("ruleset_version", String(40), nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("decided_by", String(254), nullable=False),
    Column("note", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_decisions_created", "created_at"),
)

seller_flags = Table(
    "seller_flags",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False, index=True),
    Column("trade_id", ID, ForeignKey("trades.id")),
    Column("kind", String(40), nullable=False),
    Column("details", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

ledger_accounts = Table(
    "ledger_accounts",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("code", String(120), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("kind", String(30), nullable=False),
    Column("debits_posted", BigInteger, nullable=False, server_default="0"),
    Column("credits_posted", BigInteger, nullable=False, server_default="0"),
    Column("debits_pending", BigInteger, nullable=False, server_default="0"),
    Column("credits_pending", BigInteger, nullable=False, server_default="0"),
    UniqueConstraint("code", "currency", name="uq_ledger_accounts_code_currency"),
    CheckConstraint(
        "debits_posted >= 0 AND credits_posted >= 0 AND debits_pending >= 0 AND credits_pending >= 0",
        name="totals_non_negative",
    ),
)

ledger_transfers = Table(
    "ledger_transfers",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("key", String(160), nullable=False, unique=True),
    Column("debit_account_id", AutoId, ForeignKey("ledger_accounts.id"), nullable=False),
    Column("credit_account_id", AutoId, ForeignKey("ledger_accounts.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("phase", String(10), nullable=False),
    # A post or void names the pending transfer it settles; at most one settles each.
    Column("pending_id", AutoId, ForeignKey("ledger_transfers.id"), unique=True),
    # What the money moved for ("trade:<id>", "payout:<id>", "funding:<ref>"): the ledger knows no trades.
    Column("reference", String(120), nullable=False, index=True),
    Column("memo", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("debit_account_id <> credit_account_id", name="two_accounts"),
    CheckConstraint("phase IN ('single', 'pending', 'post', 'void')", name="phase"),
)

payouts = Table(
    "payouts",
    metadata,
    Column("id", ID, primary_key=True),
    # What the payout pays for; a refused payout may be followed by another attempt to another account.
    Column("trade_id", ID, ForeignKey("trades.id"), nullable=False, index=True),
    Column("attempt", Integer, nullable=False, server_default="1"),
    # 'trade': what the trade pays; 'compensation': the promise's compensation, sent after a
    # trade payout the bank executed late (its amount could no longer grow).
    Column("purpose", String(20), nullable=False, server_default="trade"),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False),
    Column("destination_id", ID, ForeignKey("payout_destinations.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(20), nullable=False),
    Column("idempotency_key", String(80), nullable=False, unique=True),
    Column("rail_reference", String(100)),
    Column("pending_transfer_id", AutoId, ForeignKey("ledger_transfers.id")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Column("settled_at", UTCDateTime),
    CheckConstraint("amount > 0", name="amount_positive"),
    UniqueConstraint("trade_id", "attempt", name="uq_payouts_trade_attempt"),
    # Exactly once: at most one payout per trade and purpose that is not refused (created,
    # sending or executed).
    Index(
        "uq_payouts_one_live_per_trade",
        "trade_id",
        "purpose",
        unique=True,
        sqlite_where=text("status <> 'rejected'"),
        postgresql_where=text("status <> 'rejected'"),
    ),
)

voucher_chargebacks = Table(
    "voucher_chargebacks",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    # The issuer's own sequence number: the feed is read after the last one seen; a report is kept once.
    Column("issuer_seq", BigInteger, nullable=False, unique=True),
    Column("reference", String(100), nullable=False, index=True),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("reason", String(20), nullable=False),
    Column("reported_at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("receivable", BigInteger, nullable=False, server_default="0"),
    Column("processed_at", UTCDateTime),
    Column("appeal_note", Text),
    Column("appealed_at", UTCDateTime),
    Column("appeal_outcome", String(20)),
    Column("appeal_decided_by", String(254)),
    Column("appeal_decided_at", UTCDateTime),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("kind", String(40), nullable=False),
    Column("ref", String(60), nullable=False),
    # One live job per (kind, ref): enqueueing twice is harmless.
    Column("dedupe_key", String(120), unique=True),
    Column("status", String(10), nullable=False),
    Column("run_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    # Set when work is enqueued while the job runs: it runs once more instead of finishing.
    Column("rerun", Boolean, nullable=False, server_default="0"),
    Column("locked_by", String(80)),
    Column("locked_until", UTCDateTime),
    Column("last_error", String(500)),
    # The HTTP request that caused the job, so one id follows the work into the worker's logs.
    Column("request_id", String(64)),
    # The facts the job needs, handed over by whoever enqueued it (JSON text); NULL: it reads them.
    Column("payload", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_jobs_claim", "status", "run_at"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("user_id", ID, primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("method_path", String(200), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response_body", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_idempotency_keys_created", "created_at"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(254), nullable=False),
    Column("action", String(60), nullable=False),
    Column("subject", String(100), nullable=False),
    Column("details", JSON, nullable=False),
    # The hash chain (audit/chain.py): each entry names the hash of the one before it.
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_log_at", "at"),
)

# One row: the newest audit entry and its hash. Appenders lock it, so the chain never forks.
audit_chain_head = Table(
    "audit_chain_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last_id", AutoId),
    Column("hash", String(64), nullable=False),
    CheckConstraint("id = 1", name="single_row"),
)

# Every `reconcile issuer|rail` run: the counts, and the lines that did not match.
reconciliation_runs = Table(
    "reconciliation_runs",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("source", String(10), nullable=False),
    Column("statement_date", Date, nullable=False),
    Column("file_name", String(200), nullable=False),
    Column("file_sha256", String(64), nullable=False),
    Column("tolerance_seconds", Integer, nullable=False),
    Column("matched", Integer, nullable=False),
    Column("missing_ours", Integer, nullable=False),
    Column("missing_theirs", Integer, nullable=False),
    Column("mismatched", Integer, nullable=False),
    Column("unmatched", JSON, nullable=False),
    Column("run_by", String(254), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("source IN ('issuer', 'rail')", name="source"),
    Index("ix_reconciliation_runs_created", "created_at"),
)

# Rule sets are immutable versions; only their status changes (one live, any number shadow).
risk_rulesets = Table(
    "risk_rulesets",
    metadata,
    Column("version", String(60), primary_key=True),
    Column("rules", JSON, nullable=False),
    Column("status", String(10), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(254), nullable=False),
    CheckConstraint("status IN ('live', 'shadow', 'retired')", name="status"),
)

# Risk windows (risk/windows.py), written with each trade in its submission transaction so a
# decision reads a few rows instead of scanning a hot brand's, device's or IP's trades.
# Trades per (device | brand, minute); `shard` (0..7, from the trade id) spreads one hot
# brand's concurrent submissions over eight rows instead of one.
risk_counts = Table(
    "risk_counts",
    metadata,
    Column("kind", String(10), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("bucket", UTCDateTime, primary_key=True),
    Column("shard", Integer, primary_key=True, autoincrement=False),
    Column("n", Integer, nullable=False),
    CheckConstraint("kind IN ('device', 'brand')", name="kind"),
    Index("ix_risk_counts_bucket", "bucket"),  # pruning finds old minutes without a scan
)

# Each seller seen on a device, IP or bank-account fingerprint, with their newest trade there.
risk_links = Table(
    "risk_links",
    metadata,
    Column("kind", String(10), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("user_id", ID, primary_key=True),
    Column("last_seen", UTCDateTime, nullable=False),
    CheckConstraint("kind IN ('device', 'ip', 'account')", name="kind"),
    Index("ix_risk_links_kind_key_seen", "kind", "key", "last_seen"),
)

# Ground truth for backtests: reviewer close reasons, reversals, known-bad injections.
trade_labels = Table(
    "trade_labels",
    metadata,
    Column("trade_id", ID, ForeignKey("trades.id"), primary_key=True),
    Column("label", String(10), nullable=False),
    Column("source", String(30), nullable=False),
    Column("typology", String(40)),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("label IN ('bad', 'good')", name="label"),
)

sanctions_lists = Table(
    "sanctions_lists",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("source", String(200), nullable=False),
    Column("entries", Integer, nullable=False),
    Column("names", Integer, nullable=False),
    Column("loaded_at", UTCDateTime, nullable=False),
)

# One row per listed name (primary names and aliases), normalised for matching.
sanctions_names = Table(
    "sanctions_names",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("list_id", AutoId, ForeignKey("sanctions_lists.id"), nullable=False, index=True),
    Column("ent_num", Integer, nullable=False),
    Column("name", String(400), nullable=False),
    Column("normalised", String(400), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("sdn_type", String(40)),
    Column("program", String(200)),
    # The entry's identifiers from Remarks (DOBs, nationalities, places of birth, gender), kept
    # with each of its names, and a digest of the entry that changes when the list changes it.
    Column("identifiers", JSON),
    Column("entry_version", String(16)),
)

# A reviewer's "not the listed person": this customer is not this version of this listed entry.
sanctions_clearances = Table(
    "sanctions_clearances",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False),
    Column("ent_num", Integer, nullable=False),
    Column("entry_version", String(16), nullable=False),
    Column("listed_name", String(400), nullable=False),
    Column("trade_id", ID, ForeignKey("trades.id")),
    Column("cleared_by", String(254), nullable=False),
    Column("note", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("user_id", "ent_num", "entry_version", name="uq_sanctions_clearances_user_entry"),
)

# Risk's sanctions standing: the latest screening of a customer's legal name (subject
# "customer", subject_id = the user) or of a payout account holder's name ("destination",
# subject_id = the destination): none | weak | strong, the match as evidence, and the list it
# ran against (a newer list means: screen the customer again before paying). No row: never screened.
sanctions_screenings = Table(
    "sanctions_screenings",
    metadata,
    Column("subject", String(12), primary_key=True),
    Column("subject_id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False, index=True),
    Column("strength", String(10), nullable=False, server_default="none"),
    Column("match", JSON),
    Column("list_id", AutoId),
    CheckConstraint("subject IN ('customer', 'destination')", name="subject"),
)

# Payouts of a customer held because a re-screen found a strong match; released by a reviewer.
sanctions_freezes = Table(
    "sanctions_freezes",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False),
    Column("list_id", AutoId, ForeignKey("sanctions_lists.id"), nullable=False),
    Column("ent_num", Integer),
    Column("match", JSON),
    Column("created_at", UTCDateTime, nullable=False),
    Column("released_at", UTCDateTime),
    Column("released_by", String(254)),
    Index("ix_sanctions_freezes_user_released", "user_id", "released_at"),
)

# Every public key a receipt was ever signed with (published at /.well-known/voucher-exchange/keys).
# The private keys are files under var/keys/receipts/, never in the database.
receipt_keys = Table(
    "receipt_keys",
    metadata,
    Column("key_id", String(40), primary_key=True),
    Column("public_key", String(60), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    # Set when a newer key took over: it signs nothing more but stays published.
    Column("retired_at", UTCDateTime),
)

# A paid trade's signed receipt, issued once and then served unchanged: `body` holds the exact signed bytes.
receipts = Table(
    "receipts",
    metadata,
    Column("trade_id", ID, ForeignKey("trades.id"), primary_key=True),
    Column("key_id", String(40), ForeignKey("receipt_keys.key_id"), nullable=False),
    Column("body", Text, nullable=False),
    Column("signature", String(100), nullable=False),
    Column("issued_at", UTCDateTime, nullable=False),
)

# Who runs this exchange (trust/): one row, edited by the operator; every change is audited
# with before → after. No row = the demo profile, marked as such on every page.
business_profile = Table(
    "business_profile",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("business_name", String(100), nullable=False),
    Column("representative", String(100), nullable=False),
    Column("registration_number", String(100), nullable=False),
    Column("mail_order_number", String(100), nullable=False),
    Column("address", String(200), nullable=False),
    Column("support_phone", String(100), nullable=False),
    Column("support_email", String(254), nullable=False),
    Column("support_hours", String(100), nullable=False),
    Column("kakao_channel_url", String(200), nullable=False, server_default=""),
    Column("service_name", String(40), nullable=False, server_default=""),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(254), nullable=False),
    CheckConstraint("id = 1", name="single_row"),
)

# The consent texts (이용약관, 개인정보 수집·이용, marketing): a change is a new version, never an edit.
consent_documents = Table(
    "consent_documents",
    metadata,
    Column("kind", String(20), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("title", String(200), nullable=False),  # Korean
    Column("body", Text, nullable=False),
    Column("title_en", String(200), nullable=False, server_default=""),
    Column("body_en", Text, nullable=False, server_default=""),
    Column("published_at", UTCDateTime, nullable=False),
    Column("published_by", String(254), nullable=False),
    # In force from this moment (the start of a day in the jurisdiction's time zone); a version
    # that changes a text sellers accepted takes effect at least NOTICE_DAYS after publication.
    Column("effective_at", UTCDateTime, nullable=False),
)

# What each user agreed to, which version, when and through which channel (web | api).
# Version 0 is the built-in demo text of a deployment whose operator has published none.
user_consents = Table(
    "user_consents",
    metadata,
    Column("user_id", ID, ForeignKey("users.id"), primary_key=True),
    Column("kind", String(20), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("accepted_at", UTCDateTime, nullable=False),
    Column("channel", String(10), nullable=False),
)

# Four eyes on insider powers: a change of a staff member's roles is a request one operator files
# and a different operator approves (never the requester, never the person whose roles change).
# `roles_before` is what the target held when the request was filed: approval applies the change
# only if that still holds. A request for an address without an account creates it on approval.
role_requests = Table(
    "role_requests",
    metadata,
    Column("id", ID, primary_key=True),
    Column("target_user_id", ID, ForeignKey("users.id")),
    Column("email", String(254), nullable=False),
    Column("roles_before", String(100), nullable=False),
    Column("roles_after", String(100), nullable=False),
    Column("requested_by", ID, ForeignKey("users.id"), nullable=False),
    Column("requested_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("status", String(10), nullable=False, server_default="pending"),
    Column("decided_by", ID, ForeignKey("users.id")),
    Column("decided_at", UTCDateTime),
    CheckConstraint("status IN ('pending', 'approved', 'declined')", name="status"),
    CheckConstraint("decided_by IS NULL OR decided_by <> requested_by", name="second_operator"),
    Index("ix_role_requests_status", "status", "requested_at"),
)

# Revealing the code of a voucher not yet redeemed at the issuer takes a second staff member's
# approval; every reveal (approved or of a redeemed voucher) is a row here, so whoever saw a code
# is known and kept from deciding that trade.
reveal_requests = Table(
    "reveal_requests",
    metadata,
    Column("id", ID, primary_key=True),
    Column("trade_id", ID, ForeignKey("trades.id"), nullable=False),
    Column("requested_by", ID, ForeignKey("users.id"), nullable=False),
    Column("requested_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("status", String(10), nullable=False, server_default="pending"),
    Column("approved_by", ID, ForeignKey("users.id")),
    Column("approved_at", UTCDateTime),
    Column("revealed_at", UTCDateTime),
    CheckConstraint("status IN ('pending', 'approved', 'revealed')", name="status"),
    CheckConstraint("approved_by IS NULL OR approved_by <> requested_by", name="second_staff"),
    Index("ix_reveal_requests_trade", "trade_id", "requested_by"),
)

# Partner API keys (apikeys/): only a keyed hash of the secret is kept; `prefix` (the first
# characters of the key) names it in lists, logs and e-mails. A key stops working when revoked,
# when it expires, or at the end of the overlap after it was rolled (`replaced_by` its successor).
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    # Space-separated scope names and CIDRs (empty: any address).
    Column("scopes", String(200), nullable=False),
    Column("allowed_ips", String(1000), nullable=False, server_default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime),
    Column("last_used_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
    Column("replaced_by", ID),
)

# Webhooks (owner: webhooks). A seller's endpoints, the events written with the facts (the body is
# built once and stored, so every attempt and replay sends the same bytes), one delivery per
# (endpoint, event) and one row per attempt (the delivery log).
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False),
    Column("url", String(2048), nullable=False),
    Column("description", String(200)),
    Column("events", JSON, nullable=False),
    Column("status", String(10), nullable=False, server_default="enabled"),
    Column("secret_enc", LargeBinary, nullable=False),
    Column("old_secret_enc", LargeBinary),
    Column("old_secret_until", UTCDateTime),
    Column("failing_since", UTCDateTime),
    Column("disabled_reason", String(40)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("status IN ('enabled', 'disabled', 'deleted')", name="status"),
    Index("ix_webhook_endpoints_user", "user_id", "status"),
)

webhook_events = Table(
    "webhook_events",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False),
    Column("type", String(40), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_webhook_events_user", "user_id", "created_at"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", ID, primary_key=True),
    Column("endpoint_id", ID, ForeignKey("webhook_endpoints.id"), nullable=False),
    Column("event_id", String(40), ForeignKey("webhook_events.id"), nullable=False),
    Column("status", String(10), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status"),
    UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_deliveries_endpoint_event"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", ID, primary_key=True),
    Column("delivery_id", ID, ForeignKey("webhook_deliveries.id"), nullable=False),
    Column("endpoint_id", ID, ForeignKey("webhook_endpoints.id"), nullable=False),
    Column("event_id", String(40), ForeignKey("webhook_events.id"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("status_code", Integer),
    Column("error", String(200)),
    Column("at", UTCDateTime, nullable=False),
    Column("next_attempt_at", UTCDateTime),
    # An attempt is recorded once, however many workers saw its lease run out.
    UniqueConstraint("delivery_id", "attempt", name="uq_webhook_attempts_delivery_attempt"),
    Index("ix_webhook_attempts_endpoint", "endpoint_id", "at"),
)

# KYC tier 2 (owner: identity). An identity document a seller uploaded and a reviewer's decision;
# the image is an encrypted file under var/identity-documents/ (`file_name`, NULL once deleted after
# the retention period); the row, with the decision, is kept.
identity_documents = Table(
    "identity_documents",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False),
    Column("kind", String(20), nullable=False),
    # Sniffed from the bytes, never taken from the upload's header.
    Column("content_type", String(40), nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("file_name", String(80)),
    Column("status", String(10), nullable=False),
    Column("reason", String(40)),
    Column("note", Text),
    Column("uploaded_at", UTCDateTime, nullable=False),
    Column("decided_at", UTCDateTime),
    Column("decided_by", ID),
    Column("file_deleted_at", UTCDateTime),
    CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="status"),
    CheckConstraint("kind IN ('id_card', 'driver_license', 'passport')", name="kind"),
    Index("ix_identity_documents_user", "user_id", "uploaded_at"),
    Index("ix_identity_documents_status", "status", "uploaded_at"),
)

# The outside facts a refusal or reversal rests on (the issuer's answer by its SHA-256), each
# with the trade's event chain position when it was recorded (migration 0026).
trade_facts = Table(
    "trade_facts",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("trade_id", ID, ForeignKey("trades.id"), nullable=False, index=True),
    Column("at", UTCDateTime, nullable=False),
    Column("source", String(40), nullable=False),
    Column("what", String(60), nullable=False),
    Column("answer_sha256", String(64)),
    Column("details", JSON, nullable=False),
    Column("event_index", Integer),
    Column("event_hash", String(64)),
)

# A seller's appeal against a refusal (one per trade) and the reviewer's answer. Appeals against
# reversals stay with their chargeback report (`chargebacks`), where the write-off is decided.
trade_appeals = Table(
    "trade_appeals",
    metadata,
    Column("trade_id", ID, ForeignKey("trades.id"), primary_key=True),
    Column("seller", String(254), nullable=False),  # the seller's user id (no e-mail: erasure)
    Column("message", Text, nullable=False),
    Column("appealed_at", UTCDateTime, nullable=False),
    Column("outcome", String(20)),
    Column("answer", Text),
    Column("answered_by", String(254)),
    Column("answered_at", UTCDateTime),
    CheckConstraint("outcome IS NULL OR outcome IN ('upheld', 'overturned')", name="outcome"),
)

# Payout freezes (owner: payouts). A hold on a seller's next payouts up to an amount, with what it
# is for (`fraud_case:<id>`): each payout it holds is a row of `payout_freeze_holds`, so the freeze
# holds no more than its amount; releasing it lets the held payouts go (or net against a debt).
payout_freezes = Table(
    "payout_freezes",
    metadata,
    Column("id", ID, primary_key=True),
    Column("user_id", ID, ForeignKey("users.id"), nullable=False),
    Column("reference", String(100), nullable=False, unique=True),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("released_at", UTCDateTime),
    Column("released_by", String(254)),
    CheckConstraint("amount > 0", name="amount_positive"),
    Index("ix_payout_freezes_user", "user_id", "released_at"),
)

payout_freeze_holds = Table(
    "payout_freeze_holds",
    metadata,
    Column("freeze_id", ID, ForeignKey("payout_freezes.id"), primary_key=True),
    Column("reference", String(100), primary_key=True),
    Column("amount", BigInteger, nullable=False),
    Column("held_at", UTCDateTime, nullable=False),
)

# Fraud reports and cases (owner: fraud). A report keeps no code: one keyed fingerprint per code and
# brand (the trades' own `voucher:<brand>` fingerprint) and the masked form. The reporter's name and
# contact are encrypted. A report that matched a trade opens a case; `frozen_at` - `received_at` is
# the report-to-freeze time the transparency report publishes.
fraud_reports = Table(
    "fraud_reports",
    metadata,
    Column("id", ID, primary_key=True),
    Column("received_at", UTCDateTime, nullable=False, index=True),
    Column("source", String(10), nullable=False),
    Column("reporter_user_id", ID, ForeignKey("users.id")),
    Column("reporter_enc", LargeBinary, nullable=False),
    Column("police_case_number", String(64)),
    Column("description", Text, nullable=False),
    Column("code_count", Integer, nullable=False),
    Column("matched_at", UTCDateTime),
    Column("match_count", Integer, nullable=False, server_default="0"),
    CheckConstraint("source IN ('public', 'issuer')", name="source"),
)

fraud_report_codes = Table(
    "fraud_report_codes",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("report_id", ID, ForeignKey("fraud_reports.id"), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("brand_slug", String(64), nullable=False),
    Column("fingerprint", String(64), nullable=False, index=True),
    Column("masked", String(16), nullable=False),
)

fraud_cases = Table(
    "fraud_cases",
    metadata,
    Column("id", ID, primary_key=True),
    Column("report_id", ID, ForeignKey("fraud_reports.id"), nullable=False, unique=True),
    Column("status", String(10), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("frozen_at", UTCDateTime),
    Column("closed_at", UTCDateTime),
    Column("closed_by", String(254)),
    CheckConstraint("status IN ('open', 'closed')", name="status"),
    Index("ix_fraud_cases_received", "received_at"),
)

fraud_matches = Table(
    "fraud_matches",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("case_id", ID, ForeignKey("fraud_cases.id"), nullable=False),
    Column("trade_id", ID, nullable=False),
    Column("user_id", ID, nullable=False),
    Column("masked", String(16), nullable=False),
    Column("status_at_match", String(20), nullable=False),
    Column("action", String(10), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("matched_at", UTCDateTime, nullable=False),
    Column("issuer_block", String(20)),
    Column("outcome", String(20)),
    Column("outcome_at", UTCDateTime),
    Column("outcome_by", String(254)),
    CheckConstraint("action IN ('held', 'frozen', 'noted')", name="action"),
    UniqueConstraint("case_id", "trade_id", name="uq_fraud_matches_case_trade"),
)


# The issuer guard (issuers/): who stands behind each brand, what it owes us, and what we did about it.
issuers = Table(
    "issuers",
    metadata,
    Column("code", String(60), primary_key=True),
    Column("name", String(200), nullable=False),
    # 전자금융업 선불업 registration, as the operator last checked it.
    Column("registration_status", String(12), nullable=False, server_default="unknown"),
    Column("registration_number", String(60)),
    Column("insurance_expires_on", Date),
    # Value redeemed and not yet settled (deployment currency, minor units) the operator accepts.
    Column("exposure_limit", BigInteger),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(254), nullable=False),
    CheckConstraint(
        "registration_status IN ('registered', 'unregistered', 'unknown')", name="registration_status"
    ),
)

# Each issuer call that failed or timed out (a look-up or a redeem); successes are not written.
issuer_call_failures = Table(
    "issuer_call_failures",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("brand_slug", String(60), nullable=False),
    Column("operation", String(10), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    CheckConstraint("kind IN ('failure', 'timeout')", name="kind"),
    Index("ix_issuer_call_failures_at", "at"),
)

# Per reconciled issuer statement and brand: what we redeemed that day and what the issuer settled.
issuer_settlements = Table(
    "issuer_settlements",
    metadata,
    Column("run_id", AutoId, primary_key=True, autoincrement=False),
    Column("brand_slug", String(60), primary_key=True),
    Column("statement_date", Date, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("expected", BigInteger, nullable=False),
    Column("settled", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_issuer_settlements_date", "statement_date"),
)

# The operator's rules: when `signal` reaches `threshold`, take `action` (for one issuer, or all).
issuer_guard_rules = Table(
    "issuer_guard_rules",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("issuer", String(60)),
    Column("signal", String(30), nullable=False),
    Column("threshold", BigInteger, nullable=False),
    Column("action", String(20), nullable=False),
    Column("amount", BigInteger),
    Column("enabled", Boolean, nullable=False, server_default="1"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(254), nullable=False),
    CheckConstraint("action IN ('lower_rate', 'cap_daily_volume', 'pause_quotes', 'suspend')", name="action"),
)

# Every action the guard took, in force until an operator lifts it (history is never overwritten).
issuer_guard_actions = Table(
    "issuer_guard_actions",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("issuer", String(60), nullable=False),
    Column("rule_id", AutoId, ForeignKey("issuer_guard_rules.id"), nullable=False),
    Column("action", String(20), nullable=False),
    Column("amount", BigInteger),
    Column("signal", String(30), nullable=False),
    Column("observed", BigInteger, nullable=False),
    Column("threshold", BigInteger, nullable=False),
    # The brands it changed, each with what it was before.
    Column("brands", JSON, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("lifted_at", UTCDateTime),
    Column("lifted_by", String(254)),
    Column("rearmed_at", UTCDateTime),
    # Idempotent evaluation: a rule's action is taken once while it is in force.
    Index(
        "uq_issuer_guard_actions_in_force",
        "rule_id",
        unique=True,
        sqlite_where=text("lifted_at IS NULL"),
        postgresql_where=text("lifted_at IS NULL"),
    ),
    Index("ix_issuer_guard_actions_issuer", "issuer", "started_at"),
)

# Exposure per issuer and day (UTC): the last value the guard saw, the day's peak, the limit then.
issuer_exposure_points = Table(
    "issuer_exposure_points",
    metadata,
    Column("issuer", String(60), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("currency", String(3), nullable=False),
    Column("exposure", BigInteger, nullable=False),
    Column("peak", BigInteger, nullable=False),
    Column("limit_amount", BigInteger),
    Column("updated_at", UTCDateTime, nullable=False),
)

# The payout-time promise the operator makes, per payout rail (one row until someone sets it).
payout_promise_terms = Table(
    "payout_promise_terms",
    metadata,
    Column("rail", String(30), primary_key=True),
    Column("minutes", Integer, nullable=False),
    Column("compensation_bps", Integer, nullable=False),
    # The banks' nightly window, local time "HH:MM" (it may cross midnight).
    Column("window_start", String(5), nullable=False),
    Column("window_end", String(5), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(254), nullable=False),
    CheckConstraint("minutes > 0", name="minutes_positive"),
    CheckConstraint("compensation_bps BETWEEN 0 AND 10000", name="compensation_bps_range"),
)

# The promise one trade was made, fixed when its voucher was secured; compensated at most once.
trade_promises = Table(
    "trade_promises",
    metadata,
    Column("trade_id", ID, ForeignKey("trades.id"), primary_key=True),
    Column("due_at", UTCDateTime, nullable=False),
    Column("applies", Boolean, nullable=False),
    Column("excluded_because", String(20)),
    Column("compensation_amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("compensated_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("compensation_amount >= 0", name="compensation_not_negative"),
    Index("ix_trade_promises_compensated", "compensated_at"),
)
