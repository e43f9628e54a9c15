"""Who is asking, in which language, and whether a form really came from our page.

Sessions are the same hashed tokens the API uses, carried in an HttpOnly, SameSite=Lax
cookie (Secure when the site is served over https). Every POST must carry a CSRF token:
an HMAC, under the server's key, of a random per-browser cookie — a page of ours can
read it, a page on another site cannot.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request

from voucher_exchange import i18n
from voucher_exchange.accounts import service as accounts
from voucher_exchange.accounts import two_factor
from voucher_exchange.accounts.models import Role, User
from voucher_exchange.context import Context
from voucher_exchange.errors import DomainError

SESSION_COOKIE = "vx_session"
CSRF_COOKIE = "vx_csrf"
LANG_COOKIE = "vx_lang"
PENDING_COOKIE = "vx_pending"
CSRF_FIELD = "csrf_token"
SESSION_DAYS = 14
SESSION_LASTS = timedelta(days=SESSION_DAYS)


class LoginRequired(Exception):
    """The page needs a signed-in user; the handler sends them to the log-in page."""


class EnrolmentRequired(Exception):
    """A staff member without two-factor asked for a staff page; the handler sends them to set it up."""


class CsrfRejected(DomainError):
    """A POST without our form's token."""

    status = 403


class NotStaff(DomainError):
    """A staff page asked for by someone without the role."""

    status = 403


@dataclass
class Visitor:
    """One page request: the context, the signed-in user (if any), language and CSRF token."""

    request: Request
    ctx: Context
    user: User | None
    lang: str
    session_token: str | None
    csrf_seed: str
    new_csrf_seed: bool = False
    cookies: dict[str, str] = field(default_factory=dict)
    second_factor: bool = False
    """The session was issued after a right two-factor code (staff pages need it)."""
    # Drawn without the database (the page saying it cannot be reached): nothing is read.
    offline: bool = False

    @property
    def csrf_token(self) -> str:
        """The token every form of this visitor carries."""
        return self.ctx.vault.fingerprint("csrf", self.csrf_seed)

    @property
    def secure(self) -> bool:
        """True when the site is served over https (cookies then get Secure)."""
        return self.request.url.scheme == "https"

    @property
    def client_ip(self) -> str | None:
        """The peer's address (the proxy's, behind one)."""
        return self.request.client.host if self.request.client else None

    def start_session(self, token: str) -> None:
        """Remember a new session in the cookie; a fresh CSRF seed goes with it."""
        self.cookies[SESSION_COOKIE] = token
        self.csrf_seed, self.new_csrf_seed = secrets.token_urlsafe(24), True

    def seller(self) -> User:
        """The signed-in user, or LoginRequired."""
        if self.user is None:
            raise LoginRequired
        return self.user

    def staff(self, role: Role) -> User:
        """The signed-in user holding `role` in a session that passed the second factor, or a refusal.

        Staff who have not enrolled are sent to set it up; a session signed in without the
        code (before enrolment, say) is refused with `totp_session_required`.
        """
        user = self.seller()
        if not user.has(role):
            raise NotStaff("forbidden", f"This page needs the {role.value} role.")
        try:
            two_factor.check_staff_session(self.ctx, user, self.second_factor)
        except two_factor.EnrolmentRequired as needed:
            raise EnrolmentRequired from needed
        return user


def _context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def visitor(request: Request, offline: bool = False) -> Visitor:
    """Build the Visitor from the request's cookies; `offline`: without reading the database.

    An offline visitor is anonymous: the page it draws (the database cannot be reached)
    shows nobody's account.
    """
    ctx = _context(request)
    token = request.cookies.get(SESSION_COOKIE) or None
    user = None
    second_factor = False
    if token and not offline:
        with ctx.uow(readonly=True) as uow:
            try:
                signed = accounts.signed_in(uow.conn, token[:200], ctx.clock.now())
                user, second_factor = signed.user, signed.second_factor
            except DomainError:
                token = None
    lang = i18n.pick(
        request.cookies.get(LANG_COOKIE),
        user.language if user else None,
        request.headers.get("accept-language"),
    )
    seed = request.cookies.get(CSRF_COOKIE, "")
    fresh = not (16 <= len(seed) <= 64)
    if fresh:
        seed = secrets.token_urlsafe(24)
    return Visitor(request, ctx, user, lang, token, seed, fresh, second_factor=second_factor, offline=offline)


async def check_csrf(request: Request) -> None:
    """Refuse any POST whose form does not carry the visitor's token (htmx posts the form too)."""
    if request.method != "POST":
        return
    value = (await request.form()).get(CSRF_FIELD, "")
    sent = value if isinstance(value, str) else ""
    seed = request.cookies.get(CSRF_COOKIE, "")
    expected = _context(request).vault.fingerprint("csrf", seed) if seed else ""
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfRejected(
            "csrf_failed",
            "This form has expired or did not come from our site. Reload the page and try again.",
        )


Page = Annotated[Visitor, Depends(visitor)]
