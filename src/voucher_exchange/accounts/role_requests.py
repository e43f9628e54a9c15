"""Four eyes on staff roles: one operator asks for a change, a different operator approves it.

Nobody changes their own roles: a request naming the requester is refused, and neither the
requester nor the person whose roles change may approve it. A request expires after
`REQUEST_LASTS`. A new staff member's address gets an account on approval, with no password
anyone knows: a password link is mailed to the address, so no operator holds a puppet's password.

The one way round, `bootstrap_staff`, is the machine administrator's command line on a fresh
install: it grants roles directly only while fewer than two operators exist (with one operator
there is nobody to approve).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from voucher_exchange.accounts import recovery, repository
from voucher_exchange.accounts import role_request_repository as requests_repo
from voucher_exchange.accounts.models import (
    LinkPurpose,
    RevokeReason,
    Role,
    RoleRequest,
    RoleRequestStatus,
    User,
)
from voucher_exchange.accounts.service import create_staff
from voucher_exchange.accounts.sessions import revoke_other_sessions
from voucher_exchange.audit import service as audit
from voucher_exchange.context import Context
from voucher_exchange.errors import Conflict, Forbidden, InvalidInput, NotFound
from voucher_exchange.security.input_policy import parse_email
from voucher_exchange.security.vault import Vault

REQUEST_LASTS = timedelta(hours=24)
# Operators needed before roles change only by request: below it the command line may grant them.
BOOTSTRAP_OPERATORS = 2
# Never a valid argon2 hash: nobody can log in until the owner sets a password from the mailed link.
PASSWORD_UNSET = "!unset"  # noqa: S105  # a marker, not a secret


@dataclass(frozen=True)
class PendingRequest:
    """A request as the team page lists it."""

    request: RoleRequest
    requested_by_email: str


def _sorted(roles: frozenset[Role] | set[Role]) -> list[str]:
    return sorted(r.value for r in roles)


def _own_roles() -> Forbidden:
    return Forbidden(
        "roles_own", "Nobody changes their own roles: another operator must ask, and a third approve."
    )


def _require_operator(actor: User) -> None:
    if not actor.has(Role.OPERATOR):
        raise Forbidden("forbidden", "Changing staff roles needs the operator role.")


def request_roles(ctx: Context, actor: User, user_id: str, roles: set[Role]) -> RoleRequest:
    """Use case: an operator asks for an account's roles to become `roles`; another operator decides."""
    _require_operator(actor)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        target = repository.by_id(uow.conn, user_id)
        if target is None:
            raise NotFound("user_unknown", "There is no such account.")
        filed = _file(uow.conn, actor, target.id, target.email, target.roles, frozenset(roles), now)
        uow.commit()
    return filed


def request_new_staff(ctx: Context, actor: User, email: str, role: Role) -> RoleRequest:
    """Use case: an operator asks for `role` for an address (an account is created on approval)."""
    _require_operator(actor)
    email = parse_email(email)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        found = repository.by_email(uow.conn, email)
        if found is None:
            filed = _file(uow.conn, actor, None, email, frozenset(), frozenset({role}), now)
        else:
            target = found[0]
            filed = _file(uow.conn, actor, target.id, target.email, target.roles, target.roles | {role}, now)
        uow.commit()
    return filed


def _file(
    conn: Connection,
    actor: User,
    target_id: str | None,
    email: str,
    before: frozenset[Role],
    after: frozenset[Role],
    now: datetime,
) -> RoleRequest:
    if target_id == actor.id:
        raise _own_roles()
    if before == after:
        raise InvalidInput("roles_unchanged", "The account holds exactly these roles already.", "roles")
    filed = RoleRequest(
        str(uuid.uuid4()), target_id, email, before, after, actor.id, now, now + REQUEST_LASTS,
        RoleRequestStatus.PENDING,
    )  # fmt: skip
    requests_repo.add(conn, filed)
    audit.record_change(
        conn, actor.email, "staff.roles_requested", target_id or email,
        {"roles": _sorted(before)}, {"roles": _sorted(after)}, now, request=filed.id, email=email,
    )  # fmt: skip
    return filed


def approve(ctx: Context, actor: User, request_id: str) -> User:
    """Use case: a second operator approves a request; the roles change (audited, before → after)."""
    _require_operator(actor)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        conn = uow.conn
        request = _decidable(conn, actor, request_id, now)
        if actor.id == request.requested_by:
            raise Forbidden(
                "roles_second_operator_required",
                "You asked for this change; a different operator must approve it.",
            )
        target = _target(conn, ctx.vault, request, now)
        if target.id == actor.id:
            raise _own_roles()
        if target.roles != request.roles_before:
            raise Conflict(
                "role_request_stale",
                "The account's roles changed since this was asked; decline it and ask again.",
            )
        if not requests_repo.close(conn, request.id, RoleRequestStatus.APPROVED, actor.id, now):
            raise _closed()
        repository.set_roles(conn, target.id, set(request.roles_after))
        # Every session and token of the account ends: they sign in again under the new roles.
        revoke_other_sessions(conn, target.id, RevokeReason.ROLES_CHANGED, actor.email, now)
        requester = repository.by_id(conn, request.requested_by)
        audit.record_change(
            conn, actor.email, "staff.add" if request.target_user_id is None else "staff.roles", target.id,
            {"roles": _sorted(request.roles_before)}, {"roles": _sorted(request.roles_after)}, now,
            request=request.id, requested_by=requester.email if requester else request.requested_by,
        )  # fmt: skip
        changed = repository.by_id(conn, target.id)
        assert changed is not None
        uow.after_commit(ctx.wake_workers)
        uow.commit()
    return changed


def decline(ctx: Context, actor: User, request_id: str) -> None:
    """Use case: an operator declines a request (the requester may withdraw their own); nothing changes."""
    _require_operator(actor)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        request = _decidable(uow.conn, actor, request_id, now)
        if not requests_repo.close(uow.conn, request.id, RoleRequestStatus.DECLINED, actor.id, now):
            raise _closed()
        audit.record_change(
            uow.conn, actor.email, "staff.roles_declined", request.target_user_id or request.email,
            {"status": RoleRequestStatus.PENDING.value}, {"status": RoleRequestStatus.DECLINED.value}, now,
            request=request.id, roles=_sorted(request.roles_after),
        )  # fmt: skip
        uow.commit()


def _closed() -> Conflict:
    return Conflict("role_request_closed", "This request was decided already.")


def _decidable(conn: Connection, actor: User, request_id: str, now: datetime) -> RoleRequest:
    request = requests_repo.get(conn, request_id, lock=True)
    if request is None:
        raise NotFound("role_request_unknown", "There is no such role request.")
    if request.status is not RoleRequestStatus.PENDING:
        raise _closed()
    if request.expires_at <= now:
        raise Conflict("role_request_expired", "This request expired unanswered; ask again.")
    return request


def _target(conn: Connection, vault: Vault, request: RoleRequest, now: datetime) -> User:
    """The account whose roles change: a new staff member's is created now, with a password link."""
    if request.target_user_id is not None:
        found = repository.by_id(conn, request.target_user_id, lock=True)
        if found is None:
            raise NotFound("user_unknown", "There is no such account.")
        return found
    if repository.by_email(conn, request.email) is not None:
        # Someone signed up with the address since: not the account the second operator was shown.
        raise Conflict(
            "role_request_stale",
            "The account's roles changed since this was asked; decline it and ask again.",
        )
    user_id = str(uuid.uuid4())
    repository.insert_user(conn, user_id, request.email, PASSWORD_UNSET, set(), now)
    recovery.issue_link(conn, vault, user_id, LinkPurpose.PASSWORD_RESET, request.email, now)
    created = repository.by_id(conn, user_id)
    assert created is not None
    return created


def pending_requests(conn: Connection, now: datetime) -> list[PendingRequest]:
    """Requests waiting for a second operator, oldest first (expired ones are not shown)."""
    return [PendingRequest(r, email) for r, email in requests_repo.pending(conn, now)]


def bootstrap_staff(ctx: Context, email: str, password: str, role: Role) -> User:
    """Use case: the machine's administrator grants a role directly while fewer than two operators exist.

    This is the command line's way to make the first operators of a fresh install; once two
    exist, every change is a request on the team page that a second operator approves.
    """
    with ctx.uow() as uow:
        if requests_repo.count_operators(uow.conn) >= BOOTSTRAP_OPERATORS:
            raise Forbidden(
                "staff_bootstrap_closed",
                "Two operators exist: roles now change only by an operator's request on the team page "
                "(/staff/team) that a second operator approves.",
            )
        user = create_staff(uow.conn, email, password, role, ctx.clock.now(), actor="cli")
        uow.commit()
    return user
