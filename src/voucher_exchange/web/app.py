"""Mount the web app on the exchange's ASGI app: pages, static files, HTML error pages."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response

from voucher_exchange import i18n
from voucher_exchange.errors import DomainError
from voucher_exchange.i18n import N_
from voucher_exchange.web import (
    account_security,
    demo,
    developer_endpoints,
    developers,
    fraud,
    identity_document,
    issuers,
    labels,
    live,
    operator,
    receipts,
    reconciliation,
    recovery,
    refusals,
    review,
    seller,
    selling,
    shell,
    transparency,
    two_factor,
)
from voucher_exchange.web.render import page, redirect
from voucher_exchange.web.session import EnrolmentRequired, LoginRequired, visitor

STATIC = resources.files("voucher_exchange.web").joinpath("static")
# Front-end libraries come from their npm packages (package.json pins them; `make install` runs npm ci).
VENDOR = {
    "htmx.min.js": ("htmx.org", "dist/htmx.min.js"),
    "htmx-ext-sse.min.js": ("htmx-ext-sse", "dist/sse.min.js"),
}
_OWN = {"app.css": "text/css", "app.js": "text/javascript", "forms.js": "text/javascript"}


def node_modules() -> Path:
    """The project's node_modules: in the working folder, beside pyproject.toml, or VX_NODE_MODULES.

    The search stops at the checkout's root (src/voucher_exchange/web/ is three levels below
    it): a folder beside the project is never used.
    """
    configured = os.environ.get("VX_NODE_MODULES")
    if configured:
        return Path(configured)
    for base in (Path.cwd(), Path(__file__).resolve().parents[3]):
        if (base / "node_modules").is_dir():
            return base / "node_modules"
    return Path.cwd() / "node_modules"


def is_page(request: Request) -> bool:
    """True for web pages (not the API, sandboxes, docs or probes)."""
    path = request.url.path
    return not path.startswith(
        ("/api/", "/sandbox", "/docs", "/openapi", "/metrics", "/healthz", "/readyz", "/transparency.json")
    )


def error_page(request: Request, status: int, code: str, text: str) -> Response | None:
    """An HTML error page in the visitor's language; None for API paths (they answer in JSON)."""
    if not is_page(request):
        return None
    v = visitor(request, offline=code == "database_unavailable")
    known = labels.ERRORS.get(code)
    text = i18n.gettext(v.lang, known) if known else text
    titles = {404: N_("Not found"), 403: N_("Not allowed"), 503: N_("Back in a moment")}
    title = i18n.gettext(v.lang, titles.get(status, N_("Something is not right")))
    return page(v, "error.html", status=status, title=title, message=text)


async def refused(request: Request, error: DomainError) -> Response | None:
    """A use case's refusal on a page that registered how to show it (web/refusals.py); else None."""
    try:
        return await refusals.answer(request, error)
    except LoginRequired:
        return _to_login(request)
    except EnrolmentRequired:
        return _to_enrolment(request)


def _to_login(request: Request) -> Response:
    return redirect(visitor(request), f"/login?next={request.url.path}")


def _to_enrolment(request: Request) -> Response:
    return redirect(visitor(request), "/account/two-factor")


def mount(app: FastAPI) -> None:
    """Add the pages and their assets to `app`."""
    vendor_dir = node_modules()
    app.state.trade_watch = live.TradeWatch()
    for router in (
        seller.router,
        recovery.router,
        account_security.router,
        developers.router,
        developer_endpoints.router,
        two_factor.router,
        identity_document.router,
        selling.router,
        live.router,
        receipts.router,
        review.router,
        operator.router,
        reconciliation.router,
        fraud.router,
        issuers.router,
        shell.router,
        transparency.router,
        demo.router,
    ):
        app.include_router(router)

    @app.get("/static/vendor/{name}", include_in_schema=False)
    def vendor(name: str) -> Response:
        package = VENDOR.get(name)
        if package is None:
            return Response(status_code=404)
        path = vendor_dir / package[0] / package[1]
        if not path.is_file():
            return Response(f"{package[0]} is not installed: run `make install` (npm ci).", status_code=404)
        return FileResponse(
            path, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"}
        )

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        if name not in _OWN:
            return Response(status_code=404)
        body = STATIC.joinpath(name).read_bytes()
        return Response(body, media_type=_OWN[name], headers={"Cache-Control": "public, max-age=3600"})

    @app.exception_handler(EnrolmentRequired)
    async def _enrol(request: Request, _: EnrolmentRequired) -> Response:
        return _to_enrolment(request)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, _: LoginRequired) -> Response:
        return _to_login(request)
