"""The trust shell on both databases: profile saves and text versions are audited, consents stored exactly."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from tests.support.core import Core
from voucher_exchange.accounts import service as accounts
from voucher_exchange.audit import service as audit
from voucher_exchange.db.schema import consent_documents, jobs, user_consents
from voucher_exchange.errors import InvalidInput
from voucher_exchange.trust import service as trust
from voucher_exchange.trust.models import (
    CONSENT_NOTICE,
    DEMO_PROFILE,
    Acceptance,
    ConsentKind,
    Draft,
    checked_profile,
)

pytestmark = pytest.mark.both_backends


def _draft(kind: ConsentKind, title: str, day: date) -> Draft:
    return Draft(kind, title, f"{title} 본문", f"{title} (en)", f"{title} body", day)


def _in(days: int, now: datetime) -> date:
    return date.fromordinal(trust.local_today(now, "KR").toordinal() + days)


def test_profile_and_text_versions_are_kept_and_audited(core: Core) -> None:
    now = core.ctx.clock.now()
    saved = checked_profile({**DEMO_PROFILE.as_fields(), "representative": "김정직"})
    with core.ctx.uow() as uow:
        assert trust.profile(uow.conn) == DEMO_PROFILE
        assert trust.set_profile(uow.conn, saved, "op@example.com", now) is True
        assert trust.set_profile(uow.conn, saved, "op@example.com", now) is False  # nothing changed
        # Nobody accepted a privacy text yet: the first may apply today; the next one a week ahead.
        first = trust.publish(
            uow.conn, _draft(ConsentKind.PRIVACY, "개인정보 v1", _in(0, now)), "op@example.com", now, "KR"
        )
        second = trust.publish(
            uow.conn, _draft(ConsentKind.PRIVACY, "개인정보 v2", _in(7, now)), "op@example.com", now, "KR"
        )
        uow.commit()
    assert (first.version, second.version) == (1, 2)
    assert first.effective_at == now
    with core.ctx.uow(readonly=True) as uow:
        assert trust.profile(uow.conn) == saved
        current = trust.current_documents(uow.conn, now)
        assert {k: (d.version, d.title) for k, d in current.items()} == {
            ConsentKind.TERMS: (0, "Terms of use (demo)"),
            ConsentKind.PRIVACY: (1, "개인정보 v1"),
            ConsentKind.MARKETING: (0, "Offers by e-mail (optional, demo)"),
        }
        upcoming = trust.scheduled_document(uow.conn, ConsentKind.PRIVACY, now)
        assert (
            upcoming is not None
            and upcoming.version == 2
            and upcoming.in_language("en")
            == (
                "개인정보 v2 (en)",
                "개인정보 v2 body",
            )
        )
        assert second.effective_at is not None
        later = trust.current_documents(uow.conn, second.effective_at)[ConsentKind.PRIVACY]
        assert (
            later.version == 2
            and trust.scheduled_document(uow.conn, ConsentKind.PRIVACY, later.effective_at) is None
        )
        assert [d.version for d in trust.document_history(uow.conn, ConsentKind.PRIVACY)] == [2, 1]
        entries = [(e.action, e.subject, e.details) for e in reversed(audit.recent(uow.conn, 10))]
    assert [entry[:2] for entry in entries] == [
        ("business_profile.update", "business_profile"),
        ("consent_document.publish", "privacy:1"),
        ("consent_document.publish", "privacy:2"),
    ]
    assert entries[2][2] == {
        "before": {"version": 1, "title": "개인정보 v1"},
        "after": {
            "version": 2,
            "title": "개인정보 v2",
            "title_en": "개인정보 v2 (en)",
            "effective_at": second.effective_at.isoformat(),
            "notified": 0,
        },
        "kind": "privacy",
    }


def test_a_text_sellers_accepted_changes_only_with_notice_and_each_of_them_is_told(core: Core) -> None:
    acceptance = Acceptance({ConsentKind.TERMS: 0, ConsentKind.PRIVACY: 0}, "web")
    session = accounts.register(
        core.ctx, "told@example.com", "correct-horse-battery", None, consents=acceptance
    )
    now = core.ctx.clock.now()

    def stored() -> tuple[int, int, int]:
        with core.ctx.uow(readonly=True) as uow:
            return (
                uow.conn.execute(select(func.count()).select_from(consent_documents)).scalar_one(),
                uow.conn.execute(
                    select(func.count()).select_from(jobs).where(jobs.c.kind == CONSENT_NOTICE)
                ).scalar_one(),
                len(audit.recent(uow.conn, 50, "consent_document.publish")),
            )

    for days, code in (
        (0, "document_effective_too_soon"),
        (6, "document_effective_too_soon"),
        (366, "document_effective_too_far"),
    ):
        with core.ctx.uow() as uow, pytest.raises(InvalidInput) as refused:
            trust.publish(
                uow.conn, _draft(ConsentKind.TERMS, "약관", _in(days, now)), "op@example.com", now, "KR"
            )
        assert refused.value.code == code, days
        assert stored() == (0, 0, 0)
    with core.ctx.uow() as uow:
        doc = trust.publish(
            uow.conn, _draft(ConsentKind.TERMS, "약관 v1", _in(30, now)), "op@example.com", now, "KR"
        )
        uow.commit()
    assert stored() == (1, 1, 1)
    with core.ctx.uow(readonly=True) as uow:
        ref = uow.conn.execute(select(jobs.c.ref).where(jobs.c.kind == CONSENT_NOTICE)).scalar_one()
    assert ref == f"terms:{doc.version}:{session.user.id}"
    # A newer version may not take effect before the one already scheduled (in 30 days).
    with core.ctx.uow() as uow, pytest.raises(InvalidInput) as refused:
        trust.publish(uow.conn, _draft(ConsentKind.TERMS, "약관 v2", _in(10, now)), "op", now, "KR")
    assert refused.value.code == "document_effective_before_scheduled"
    assert stored() == (1, 1, 1)


def test_register_stores_the_accepted_versions_with_the_account(core: Core) -> None:
    acceptance = Acceptance({ConsentKind.TERMS: 0, ConsentKind.PRIVACY: 2}, "web")
    before = core.ctx.clock.now()
    session = accounts.register(
        core.ctx, "consent@example.com", "correct-horse-battery", None, consents=acceptance
    )
    with core.ctx.uow(readonly=True) as uow:
        rows = uow.conn.execute(
            select(
                user_consents.c.kind,
                user_consents.c.version,
                user_consents.c.accepted_at,
                user_consents.c.channel,
            )
            .where(user_consents.c.user_id == session.user.id)
            .order_by(user_consents.c.kind)
        ).all()
        entry = audit.recent(uow.conn, 1, "consent.accept")[0]
    accepted_at = rows[0].accepted_at
    assert before <= accepted_at <= core.ctx.clock.now()
    assert [tuple(r) for r in rows] == [("privacy", 2, accepted_at, "web"), ("terms", 0, accepted_at, "web")]
    assert (entry.actor, entry.subject, entry.details) == (
        "consent@example.com",
        session.user.id,
        {"terms": 0, "privacy": 2, "channel": "web"},
    )
