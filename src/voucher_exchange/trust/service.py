"""Trust use cases: read and change the business profile, publish consent texts, record consents."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from voucher_exchange.audit import service as audit
from voucher_exchange.context import Context
from voucher_exchange.errors import InvalidInput
from voucher_exchange.i18n import N_
from voucher_exchange.trust import repository as trust_repo
from voucher_exchange.trust.models import (
    BODY_MAX,
    DEMO_PROFILE,
    TITLE_MAX,
    Acceptance,
    BusinessProfile,
    ConsentDocument,
    ConsentKind,
    accept,
    changes,
    checked_profile,
)

# The built-in texts of a deployment whose operator has published none (version 0, marked demo).
# They are message ids: the pages show them in the reader's language.
DEMO_DOCUMENTS = {
    ConsentKind.TERMS: (
        N_("Terms of use (demo)"),
        N_(
            "DEMO TEXT: replace it on the staff page before opening to the public.\n\n"
            "1. We buy unused vouchers at the rate shown before you sell. The quote you accept is binding "
            "until it expires.\n"
            "2. You may only sell vouchers you own and that were not paid with mobile carrier billing.\n"
            "3. We pay only to a bank account in your own name, after the issuer confirms the voucher.\n"
            "4. If the issuer later reverses a voucher (stolen, fraud, chargeback) within the liability "
            "window printed on your receipt, we may reclaim the payout."
        ),
    ),
    ConsentKind.PRIVACY: (
        N_("Collection and use of personal data (demo)"),
        N_(
            "DEMO TEXT: replace it on the staff page before opening to the public.\n\n"
            "What we collect: e-mail, password (hashed), legal name, date of birth, phone number, bank "
            "account (encrypted), the vouchers you sell (codes encrypted).\n"
            "Why: to verify your identity and age, pay you, prevent fraud and meet our legal duties.\n"
            "How long: until you close your account, and afterwards only what the law requires us to keep "
            "(transaction records: 5 years).\n"
            "You may refuse, but then we cannot open an account for you."
        ),
    ),
    ConsentKind.MARKETING: (
        N_("Offers by e-mail (optional, demo)"),
        N_(
            "DEMO TEXT.\n\nWe may e-mail you about better rates and new brands. This is optional: "
            "saying no changes nothing else, and you can stop at any time."
        ),
    ),
}


def profile(conn: Connection) -> BusinessProfile:
    """The operator's profile, or the demo one (marked as such) before they saved it."""
    return trust_repo.profile(conn) or DEMO_PROFILE


def save_profile(ctx: Context, fields: dict[str, str], actor: str) -> bool:
    """Use case: the operator saves the business profile as typed (checked, audited before → after).

    False when nothing changed.
    """
    new = checked_profile(fields, ctx.settings.jurisdiction)
    with ctx.uow() as uow:
        saved = set_profile(uow.conn, new, actor, ctx.clock.now())
        uow.commit()
    return saved


def publish_document(ctx: Context, kind: ConsentKind, title: str, body: str, actor: str) -> ConsentDocument:
    """Use case: publish a new version of one consent text (audited; see `publish`)."""
    with ctx.uow() as uow:
        doc = publish(uow.conn, kind, title, body, actor, ctx.clock.now())
        uow.commit()
    return doc


def set_profile(conn: Connection, new: BusinessProfile, actor: str, now: datetime) -> bool:
    """Save the profile and audit before → after of each changed field; False when nothing changed."""
    before = profile(conn)
    diff = changes(before, new)
    if not diff and not before.is_demo:
        return False
    trust_repo.save_profile(conn, new, now, actor)
    audit.record_change(
        conn,
        actor,
        "business_profile.update",
        "business_profile",
        {name: change["before"] for name, change in diff.items()},
        {name: change["after"] for name, change in diff.items()},
        now,
    )
    return True


def _demo_document(kind: ConsentKind) -> ConsentDocument:
    title, body = DEMO_DOCUMENTS[kind]
    return ConsentDocument(kind, 0, title, body, None, None)


def current_documents(conn: Connection) -> dict[ConsentKind, ConsentDocument]:
    """The version of each consent text a new seller is shown (the demo text where none is published)."""
    published = trust_repo.latest_documents(conn)
    return {kind: published.get(kind) or _demo_document(kind) for kind in ConsentKind}


def document_history(conn: Connection, kind: ConsentKind) -> list[ConsentDocument]:
    """Every published version of one kind, newest first."""
    return trust_repo.history(conn, kind)


def publish(
    conn: Connection, kind: ConsentKind, title: str, body: str, actor: str, now: datetime
) -> ConsentDocument:
    """A new version of a consent text; the old versions stay, and sellers keep what they accepted."""
    title, body = title.strip(), body.strip()
    if not title or len(title) > TITLE_MAX:
        raise InvalidInput("document_title_invalid", "Give the text a title (up to 200 characters).", "title")
    if not body or len(body) > BODY_MAX:
        raise InvalidInput("document_body_invalid", "Write the text (up to 50,000 characters).", "body")
    before = current_documents(conn)[kind]
    doc = ConsentDocument(kind, before.version + 1, title, body, now, actor)
    trust_repo.add_document(conn, doc)
    audit.record_change(
        conn,
        actor,
        "consent_document.publish",
        f"{kind.value}:{doc.version}",
        {"version": before.version, "title": before.title},
        {"version": doc.version, "title": doc.title},
        now,
        kind=kind.value,
    )
    return doc


def record_consents(
    conn: Connection, user_id: str, actor: str, acceptance: Acceptance, now: datetime
) -> None:
    """Store the versions a new user accepted and write them to the audit log (caller's transaction)."""
    trust_repo.add_consents(conn, user_id, acceptance, now)
    details: dict[str, object] = {kind.value: version for kind, version in acceptance.versions.items()}
    details["channel"] = acceptance.channel
    audit.record(conn, actor, "consent.accept", user_id, details, now)


def accept_current(conn: Connection, ticked: set[ConsentKind], channel: str) -> Acceptance:
    """The current versions of what the seller ticked; `consent_required` when a required item is missing."""
    return accept(current_documents(conn), ticked, channel)
