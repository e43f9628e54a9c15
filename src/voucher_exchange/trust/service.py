"""Trust use cases: read and change the business profile, publish consent texts, record consents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from voucher_exchange.audit import service as audit
from voucher_exchange.context import Context
from voucher_exchange.errors import InvalidInput
from voucher_exchange.i18n import N_
from voucher_exchange.jobs import queue
from voucher_exchange.risk.screening import JURISDICTION_TZ
from voucher_exchange.trust import repository as trust_repo
from voucher_exchange.trust.models import (
    BODY_MAX,
    CONSENT_NOTICE,
    DEMO_PROFILE,
    TITLE_MAX,
    Acceptance,
    BusinessProfile,
    ConsentDocument,
    ConsentKind,
    Draft,
    accept,
    changes,
    check_effective_day,
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


def publish_document(ctx: Context, draft: Draft, actor: str) -> ConsentDocument:
    """Use case: publish a new version of one consent text (audited; see `publish`)."""
    with ctx.uow() as uow:
        doc = publish(uow.conn, draft, actor, ctx.clock.now(), ctx.settings.jurisdiction)
        uow.commit()
    return doc


def preview_document(ctx: Context, draft: Draft) -> Preview:
    """Use case: check a draft as `publish` would, and say whom publishing it would e-mail; stores nothing."""
    with ctx.uow(readonly=True) as uow:
        return check(uow.conn, draft, ctx.clock.now(), ctx.settings.jurisdiction)


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


def current_documents(conn: Connection, now: datetime) -> dict[ConsentKind, ConsentDocument]:
    """The version of each consent text in force at `now` (the demo text where none is)."""
    published = trust_repo.latest_documents(conn, now)
    return {kind: published.get(kind) or _demo_document(kind) for kind in ConsentKind}


def scheduled_document(conn: Connection, kind: ConsentKind, now: datetime) -> ConsentDocument | None:
    """The newest published version of one kind that is not in force yet."""
    return trust_repo.scheduled(conn, kind, now)


def document_version(conn: Connection, kind: ConsentKind, number: int) -> ConsentDocument | None:
    """One published version (in force, past or scheduled)."""
    return trust_repo.version(conn, kind, number)


def document_history(conn: Connection, kind: ConsentKind) -> list[ConsentDocument]:
    """Every published version of one kind, newest first."""
    return trust_repo.history(conn, kind)


def local_today(now: datetime, jurisdiction: str) -> date:
    """The jurisdiction's calendar day at `now` (what an effective date is counted from)."""
    return now.astimezone(ZoneInfo(JURISDICTION_TZ[jurisdiction])).date()


@dataclass(frozen=True)
class Preview:
    """A checked draft: when it takes effect, and who would be e-mailed about it."""

    draft: Draft
    version: int
    effective_at: datetime
    notified: int


def check(conn: Connection, draft: Draft, now: datetime, jurisdiction: str) -> Preview:
    """Refuse a draft that could not be published (texts, effective date); what publishing would do."""
    title, body = draft.title.strip(), draft.body.strip()
    title_en, body_en = draft.title_en.strip(), draft.body_en.strip()
    for value, field in ((title, "title"), (title_en, "title_en")):
        if not value or len(value) > TITLE_MAX:
            raise InvalidInput(
                "document_title_invalid", "Give the text a title (up to 200 characters).", field
            )
    for value, field in ((body, "body"), (body_en, "body_en")):
        if not value or len(value) > BODY_MAX:
            raise InvalidInput("document_body_invalid", "Write the text (up to 50,000 characters).", field)
    history = trust_repo.history(conn, draft.kind)
    readers = trust_repo.accepted_by(conn, draft.kind)
    upcoming = trust_repo.scheduled(conn, draft.kind, now)
    tz = ZoneInfo(JURISDICTION_TZ[jurisdiction])
    today = now.astimezone(tz).date()
    upcoming_day = upcoming.effective_at.astimezone(tz).date() if upcoming and upcoming.effective_at else None
    # The same day only while nobody has accepted any text of this kind (not even the demo one).
    check_effective_day(draft.effective_on, today, first=not history and not readers, scheduled=upcoming_day)
    start = datetime.combine(draft.effective_on, time(0), tzinfo=tz).astimezone(UTC)
    clean = Draft(draft.kind, title, body, title_en, body_en, draft.effective_on)
    version = history[0].version + 1 if history else 1
    return Preview(clean, version, max(start, now), len(readers))


def publish(conn: Connection, draft: Draft, actor: str, now: datetime, jurisdiction: str) -> ConsentDocument:
    """A new version of a consent text, in force from its effective date; the old versions stay and
    sellers keep what they accepted. Everyone who accepted a version of this kind is e-mailed about it."""
    checked = check(conn, draft, now, jurisdiction)
    d = checked.draft
    before = current_documents(conn, now)[d.kind]
    doc = ConsentDocument(
        d.kind, checked.version, d.title, d.body, now, actor, d.title_en, d.body_en, checked.effective_at
    )
    trust_repo.add_document(conn, doc)
    readers = trust_repo.accepted_by(conn, d.kind)
    for user_id in readers:
        queue.enqueue(conn, CONSENT_NOTICE, f"{d.kind.value}:{doc.version}:{user_id}", now)
    audit.record_change(
        conn,
        actor,
        "consent_document.publish",
        f"{d.kind.value}:{doc.version}",
        {"version": before.version, "title": before.title},
        {
            "version": doc.version,
            "title": doc.title,
            "title_en": doc.title_en,
            "effective_at": checked.effective_at.isoformat(),
            "notified": len(readers),
        },
        now,
        kind=d.kind.value,
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


def accept_current(conn: Connection, ticked: set[ConsentKind], channel: str, now: datetime) -> Acceptance:
    """The versions in force of what the seller ticked; `consent_required` when a required item is missing."""
    return accept(current_documents(conn, now), ticked, channel)
