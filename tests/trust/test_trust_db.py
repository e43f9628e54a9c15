"""The trust shell on both databases: profile saves and text versions are audited, consents stored exactly."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.support.core import Core
from voucher_exchange.accounts import service as accounts
from voucher_exchange.audit import service as audit
from voucher_exchange.db.schema import user_consents
from voucher_exchange.trust import service as trust
from voucher_exchange.trust.models import DEMO_PROFILE, Acceptance, ConsentKind, checked_profile

pytestmark = pytest.mark.both_backends


def test_profile_and_text_versions_are_kept_and_audited(core: Core) -> None:
    now = core.ctx.clock.now()
    saved = checked_profile({**DEMO_PROFILE.as_fields(), "representative": "김정직"})
    with core.ctx.uow() as uow:
        assert trust.profile(uow.conn) == DEMO_PROFILE
        assert trust.set_profile(uow.conn, saved, "op@example.com", now) is True
        assert trust.set_profile(uow.conn, saved, "op@example.com", now) is False  # nothing changed
        first = trust.publish(uow.conn, ConsentKind.PRIVACY, "개인정보 v1", "본문 1", "op@example.com", now)
        second = trust.publish(uow.conn, ConsentKind.PRIVACY, "개인정보 v2", "본문 2", "op@example.com", now)
        uow.commit()
    assert (first.version, second.version) == (1, 2)
    with core.ctx.uow(readonly=True) as uow:
        assert trust.profile(uow.conn) == saved
        current = trust.current_documents(uow.conn)
        assert {k: (d.version, d.title) for k, d in current.items()} == {
            ConsentKind.TERMS: (0, "Terms of use (demo)"),
            ConsentKind.PRIVACY: (2, "개인정보 v2"),
            ConsentKind.MARKETING: (0, "Offers by e-mail (optional, demo)"),
        }
        assert [d.version for d in trust.document_history(uow.conn, ConsentKind.PRIVACY)] == [2, 1]
        entries = [(e.action, e.subject, e.details) for e in reversed(audit.recent(uow.conn, 10))]
    assert entries == [
        (
            "business_profile.update",
            "business_profile",
            {"before": {"representative": "홍길동"}, "after": {"representative": "김정직"}},
        ),
        (
            "consent_document.publish",
            "privacy:1",
            {
                "before": {"version": 0, "title": "Collection and use of personal data (demo)"},
                "after": {"version": 1, "title": "개인정보 v1"},
                "kind": "privacy",
            },
        ),
        (
            "consent_document.publish",
            "privacy:2",
            {
                "before": {"version": 1, "title": "개인정보 v1"},
                "after": {"version": 2, "title": "개인정보 v2"},
                "kind": "privacy",
            },
        ),
    ]


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
