"""The web's one way to show a refusal: the page again, with the error in the reader's language.

A page handler says how its page comes back refused, then calls its use case and lets any
`DomainError` rise:

    operator = v.staff(Role.OPERATOR)
    on_refusal(v, lambda refused: _team_page(v, status=refused.status, error=refused.message))
    role_requests.request_new_staff(v.ctx, operator, email, Role(role))
    return redirect(v, "/staff/team")

The app's one `DomainError` handler (`api/errors.py`, which the web app hands `answer`) renders
that page with the refusal's status and message (`forms.message`: the reader's language, the
service's own words when there is no translation); the renderer decides what comes back (the
form with what was typed, a fragment for an htmx swap, a redirect). A refusal raised before a
handler registers (the CSRF check, a missing role), or on a page that registers nothing, gets
the HTML error page, as before; so does a refusal raised while rendering the refused page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from voucher_exchange.errors import DomainError
from voucher_exchange.web import forms
from voucher_exchange.web.session import Visitor

_KEY = "vx_refusal"


@dataclass(frozen=True)
class Refusal:
    """A use case's refusal as the page shows it."""

    error: DomainError
    message: str
    """In the reader's language."""

    @property
    def status(self) -> int:
        """The HTTP status the refusal carries (422, 404, 409, 429…)."""
        return self.error.status

    @property
    def code(self) -> str:
        """The stable error code."""
        return self.error.code

    @property
    def field(self) -> str | None:
        """The form field at fault, when the use case named one."""
        return self.error.field


Render = Callable[[Refusal], Response]


def on_refusal(v: Visitor, render: Render) -> None:
    """From here on, a `DomainError` in this request renders `render(refusal)` instead of the error page."""
    setattr(v.request.state, _KEY, (v, render))


async def answer(request: Request, error: DomainError) -> Response | None:
    """The page registered for this request, rendered for `error`; None when none is registered.

    The registration is used once: a refusal raised while rendering goes to the error page.
    """
    registered: tuple[Visitor, Render] | None = getattr(request.state, _KEY, None)
    if registered is None:
        return None
    setattr(request.state, _KEY, None)
    v, render = registered
    refusal = Refusal(error, forms.message(error, v.lang))
    # Renderers read the database (sync): off the event loop, as the page handlers run.
    return await run_in_threadpool(render, refusal)
