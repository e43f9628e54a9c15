"""Staff roles change only by one operator's request and a different operator's approval.

Every refusal leaves the roles as they were and writes no change to the audit log.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.support.core import Core
from tests.support.exchange import ShiftableClock
from tests.support.staff import PASSWORD, bootstrap_staff, grant_roles
from voucher_exchange.accounts import repository as account_repo
from voucher_exchange.accounts import role_requests
from voucher_exchange.accounts import service as account_service
from voucher_exchange.accounts.models import LinkPurpose, Role, User
from voucher_exchange.db.schema import account_tokens, audit_log, users
from voucher_exchange.db.schema import role_requests as role_requests_table
from voucher_exchange.errors import DomainError
from voucher_exchange.privacy import service as privacy
from voucher_exchange.security.passwords import verify_password


def _roles(core: Core, user: User) -> set[str]:
    return {r.value for r in core.user(user.id).roles}


def _changes(core: Core, subject: str) -> list[tuple[str, str, dict[str, Any]]]:
    with core.ctx.uow(readonly=True) as uow:
        rows = uow.conn.execute(
            select(audit_log.c.actor, audit_log.c.action, audit_log.c.details)
            .where(audit_log.c.subject == subject)
            .order_by(audit_log.c.id)
        )
        return [(r.actor, r.action, r.details) for r in rows]


def _refused(code: str, call: Any, *args: Any) -> None:
    with pytest.raises(DomainError) as refused:
        call(*args)
    assert refused.value.code == code


def test_nobody_asks_for_their_own_roles(core: Core) -> None:
    operator = bootstrap_staff(core.ctx, Role.OPERATOR)

    _refused(
        "roles_own",
        role_requests.request_roles,
        core.ctx,
        operator,
        operator.id,
        {Role.OPERATOR, Role.REVEAL_CODES},
    )
    _refused("roles_own", role_requests.request_new_staff, core.ctx, operator, operator.email, Role.REVIEWER)

    assert _roles(core, operator) == {"operator"}
    assert [a for _, a, _ in _changes(core, operator.id)] == []
    with core.ctx.uow(readonly=True) as uow:
        assert role_requests.pending_requests(uow.conn, core.ctx.clock.now()) == []


def test_neither_the_requester_nor_the_target_approves_and_a_third_operator_can(core: Core) -> None:
    first, second, third = (bootstrap_staff(core.ctx, Role.OPERATOR) for _ in range(3))
    filed = role_requests.request_roles(core.ctx, first, second.id, {Role.OPERATOR, Role.REVEAL_CODES})

    _refused("roles_second_operator_required", role_requests.approve, core.ctx, first, filed.id)
    _refused("roles_own", role_requests.approve, core.ctx, second, filed.id)
    assert _roles(core, second) == {"operator"}
    assert [a for _, a, _ in _changes(core, second.id)] == ["staff.roles_requested"]

    changed = role_requests.approve(core.ctx, third, filed.id)

    assert {r.value for r in changed.roles} == {"operator", "reveal_codes"}
    actor, action, details = _changes(core, second.id)[-1]
    assert (actor, action) == (third.email, "staff.roles")
    assert details == {
        "before": {"roles": ["operator"]},
        "after": {"roles": ["operator", "reveal_codes"]},
        "request": filed.id,
        "requested_by": first.email,
    }
    # Decided once: a second approval finds nothing to approve.
    _refused("role_request_closed", role_requests.approve, core.ctx, third, filed.id)


def test_a_request_expires_after_a_day_unanswered(core: Core) -> None:
    asker, approver = bootstrap_staff(core.ctx, Role.OPERATOR), bootstrap_staff(core.ctx, Role.OPERATOR)
    reviewer = bootstrap_staff(core.ctx, Role.REVIEWER)
    filed = role_requests.request_roles(core.ctx, asker, reviewer.id, {Role.REVIEWER, Role.REVEAL_CODES})
    clock = core.ctx.clock
    assert isinstance(clock, ShiftableClock)
    clock.offset += role_requests.REQUEST_LASTS + timedelta(seconds=1)

    _refused("role_request_expired", role_requests.approve, core.ctx, approver, filed.id)

    assert _roles(core, reviewer) == {"reviewer"}
    with core.ctx.uow(readonly=True) as uow:
        assert role_requests.pending_requests(uow.conn, clock.now()) == []


def test_a_request_made_stale_by_another_change_is_not_applied(core: Core) -> None:
    a, b, c = (bootstrap_staff(core.ctx, Role.OPERATOR) for _ in range(3))
    reviewer = bootstrap_staff(core.ctx, Role.REVIEWER)
    stale = role_requests.request_roles(core.ctx, a, reviewer.id, {Role.REVIEWER, Role.MAY_SELL})
    grant_roles(core.ctx, b, c, reviewer, {Role.REVIEWER, Role.REVEAL_CODES})

    _refused("role_request_stale", role_requests.approve, core.ctx, b, stale.id)

    assert _roles(core, reviewer) == {"reviewer", "reveal_codes"}


def test_a_declined_request_changes_nothing(core: Core) -> None:
    asker, other = bootstrap_staff(core.ctx, Role.OPERATOR), bootstrap_staff(core.ctx, Role.OPERATOR)
    reviewer = bootstrap_staff(core.ctx, Role.REVIEWER)
    filed = role_requests.request_roles(core.ctx, asker, reviewer.id, set())

    role_requests.decline(core.ctx, other, filed.id)

    assert _roles(core, reviewer) == {"reviewer"}
    _refused("role_request_closed", role_requests.approve, core.ctx, other, filed.id)
    assert [a for _, a, _ in _changes(core, reviewer.id)] == ["staff.roles_requested", "staff.roles_declined"]


def test_a_new_staff_member_chooses_their_own_password(core: Core) -> None:
    asker, approver = bootstrap_staff(core.ctx, Role.OPERATOR), bootstrap_staff(core.ctx, Role.OPERATOR)
    filed = role_requests.request_new_staff(core.ctx, asker, "New.Reviewer@Example.com", Role.REVIEWER)
    with core.ctx.uow(readonly=True) as uow:
        assert account_repo.by_email(uow.conn, "new.reviewer@example.com") is None  # asked, not created

    created = role_requests.approve(core.ctx, approver, filed.id)

    assert (created.email, {r.value for r in created.roles}) == ("new.reviewer@example.com", {"reviewer"})
    with core.ctx.uow(readonly=True) as uow:
        stored = uow.conn.execute(select(users.c.password_hash).where(users.c.id == created.id)).scalar_one()
        links = uow.conn.execute(
            select(account_tokens.c.purpose).where(account_tokens.c.user_id == created.id)
        ).scalars()
        assert list(links) == [LinkPurpose.PASSWORD_RESET.value]
    # No operator chose a password: none opens the account until the owner sets one.
    assert not verify_password(stored, PASSWORD) and not verify_password(stored, "")
    actor, action, details = _changes(core, created.id)[-1]
    assert (actor, action, details["before"], details["after"]) == (
        approver.email, "staff.add", {"roles": []}, {"roles": ["reviewer"]},
    )  # fmt: skip


def test_the_command_line_makes_the_first_two_operators_and_then_refuses(core: Core) -> None:
    first = role_requests.bootstrap_staff(core.ctx, "first-op@example.com", PASSWORD, Role.OPERATOR)
    role_requests.bootstrap_staff(core.ctx, "first-op@example.com", PASSWORD, Role.REVEAL_CODES)
    role_requests.bootstrap_staff(core.ctx, "second-op@example.com", PASSWORD, Role.OPERATOR)

    _refused(
        "staff_bootstrap_closed", role_requests.bootstrap_staff, core.ctx, "first-op@example.com", PASSWORD,
        Role.MAY_SELL,
    )  # fmt: skip
    _refused(
        "staff_bootstrap_closed", role_requests.bootstrap_staff, core.ctx, "third@example.com", PASSWORD,
        Role.REVIEWER,
    )  # fmt: skip

    assert _roles(core, first) == {"operator", "reveal_codes"}
    with core.ctx.uow(readonly=True) as uow:
        assert account_repo.by_email(uow.conn, "third@example.com") is None


def test_an_erased_staff_members_address_leaves_the_requests_about_them(core: Core) -> None:
    asker, approver = bootstrap_staff(core.ctx, Role.OPERATOR), bootstrap_staff(core.ctx, Role.OPERATOR)
    reviewer = bootstrap_staff(core.ctx, Role.REVIEWER)
    grant_roles(core.ctx, asker, approver, reviewer, {Role.REVIEWER, Role.REVEAL_CODES})

    privacy.erase_account(core.ctx, core.user(reviewer.id), PASSWORD)

    with core.ctx.uow(readonly=True) as uow:
        kept = uow.conn.execute(
            select(role_requests_table.c.email, role_requests_table.c.roles_after).where(
                role_requests_table.c.target_user_id == reviewer.id
            )
        ).all()
    assert [tuple(r) for r in kept] == [(privacy.tombstone(reviewer.id), "reveal_codes,reviewer")]


def test_an_address_signed_up_after_the_request_does_not_get_the_role(core: Core) -> None:
    asker, approver = bootstrap_staff(core.ctx, Role.OPERATOR), bootstrap_staff(core.ctx, Role.OPERATOR)
    filed = role_requests.request_new_staff(core.ctx, asker, "later@example.com", Role.REVIEWER)
    with core.ctx.uow() as uow:
        squatter = account_service.sign_up(uow.conn, "later@example.com", PASSWORD, core.ctx.clock.now()).user
        uow.commit()

    _refused("role_request_stale", role_requests.approve, core.ctx, approver, filed.id)

    assert _roles(core, squatter) == set()
