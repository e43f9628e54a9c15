"""Staff for tests: a verified identity on file (reviewers need one to decide) and four-eyes role grants."""

from __future__ import annotations

import uuid
from datetime import date

from voucher_exchange.accounts import repository as account_repo
from voucher_exchange.accounts import role_requests
from voucher_exchange.accounts import service as account_service
from voucher_exchange.accounts.models import Role, User
from voucher_exchange.context import Context
from voucher_exchange.identity import service as identity_service

PASSWORD = "correct-horse-battery"  # test accounts only


def _user(ctx: Context, user_id: str) -> User:
    with ctx.uow(readonly=True) as uow:
        found = account_repo.by_id(uow.conn, user_id)
    assert found is not None
    return found


def verify_identity(ctx: Context, user: User, legal_name: str | None = None) -> User:
    """Check the staff member with the (sandbox) identity provider, as a seller is checked; the user after."""
    name = legal_name or f"Park Staff {uuid.uuid4().hex[:6]}"
    outcome = identity_service.verify_identity(ctx, user, name, date(1985, 3, 3), "010-5555-0000")
    assert outcome.refused is None, outcome.refused
    return _user(ctx, user.id)


def bootstrap_staff(ctx: Context, *roles: Role, email: str | None = None, verified: bool = True) -> User:
    """A staff member made the way a fresh install's first staff are (no second approver): tests only."""
    address = email or f"staff-{uuid.uuid4().hex[:8]}@example.com"
    with ctx.uow() as uow:
        for role in roles:
            account_service.create_staff(uow.conn, address, PASSWORD, role, ctx.clock.now())
        uow.commit()
    with ctx.uow(readonly=True) as uow:
        found = account_repo.by_email(uow.conn, address)
    assert found is not None
    return verify_identity(ctx, found[0]) if verified else found[0]


def grant_roles(ctx: Context, requester: User, approver: User, target: User, roles: set[Role]) -> User:
    """Four eyes: `requester` asks for `target`'s roles to become `roles`, `approver` approves."""
    filed = role_requests.request_roles(ctx, requester, target.id, roles)
    return role_requests.approve(ctx, approver, filed.id)
