"""`docs/api.md` documents every route the exchange serves, every error code and every reason code.

The served `/openapi.json` stays the machine-readable source; this test keeps the people's
version from falling behind it. Routes are read from the built application (the same document
`/openapi.json` serves), the sandboxes' from their own apps; error codes from the source (every
literal code a typed error is raised with, and the API handler's own); reason codes from the
risk engine's registry.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from tests.support.exchange import ShiftableClock, settings_for
from voucher_exchange import errors
from voucher_exchange.api.app import create_app
from voucher_exchange.bootstrap import build_context, build_sandbox
from voucher_exchange.db import migrate
from voucher_exchange.risk.reasons import REASONS

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "src" / "voucher_exchange"
DOC = ROOT / "docs" / "api.md"
HEADING = re.compile(r"^#{2,4} .*?`?(GET|POST|PUT|PATCH|DELETE) (/\S*?)`?\s*$", re.MULTILINE)


def documented_routes() -> set[tuple[str, str]]:
    return {(method, path) for method, path in HEADING.findall(DOC.read_text(encoding="utf-8"))}


def served_routes(app: FastAPI, prefix: str = "") -> set[tuple[str, str]]:
    spec = app.openapi()
    return {(method.upper(), prefix + path) for path, ops in spec["paths"].items() for method in ops}


@pytest.fixture(scope="module")
def api_routes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[set[tuple[str, str]]]:
    """The routes in the exchange's own `/openapi.json` (the app as `serve` builds it)."""
    var_dir = tmp_path_factory.mktemp("api-docs")
    ctx = build_context(
        settings_for(var_dir, f"sqlite:///{var_dir}/x.db"), "http://127.0.0.1:9", ShiftableClock()
    )
    try:
        migrate.upgrade(ctx.engine)
        yield served_routes(create_app(ctx))
    finally:
        ctx.close()


@pytest.fixture(scope="module")
def sandbox_routes(tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str, str]]:
    """The sandboxes' routes, each from its own app's OpenAPI document, as mounted under /sandbox."""
    sandbox = build_sandbox(tmp_path_factory.mktemp("sandbox-docs"))
    routes: set[tuple[str, str]] = set()
    for mount in sandbox.routes:
        app = getattr(mount, "app", None)
        if isinstance(app, FastAPI):
            routes |= served_routes(app, "/sandbox" + getattr(mount, "path", ""))
    return routes


def test_every_served_route_is_documented(api_routes: set[tuple[str, str]]) -> None:
    assert len(api_routes) >= 27
    missing = sorted(api_routes - documented_routes())
    assert missing == [], f"add these to docs/api.md as headings: {missing}"


def test_every_sandbox_route_is_documented(sandbox_routes: set[tuple[str, str]]) -> None:
    assert len(sandbox_routes) >= 14
    missing = sorted(sandbox_routes - documented_routes())
    assert missing == [], f"add these to docs/api.md as headings: {missing}"


def test_no_documented_route_is_invented(
    api_routes: set[tuple[str, str]], sandbox_routes: set[tuple[str, str]]
) -> None:
    invented = sorted(documented_routes() - api_routes - sandbox_routes)
    assert invented == [], f"docs/api.md documents routes nobody serves: {invented}"


def _error_classes() -> set[str]:
    names: set[str] = set()
    pending: list[type] = [errors.DomainError]
    import voucher_exchange.cli.main  # noqa: PLC0415 — imports every capability
    import voucher_exchange.web.app  # noqa: F401, PLC0415

    while pending:
        cls = pending.pop()
        names.add(cls.__name__)
        pending.extend(cls.__subclasses__())
    return names


def raised_codes() -> dict[str, str]:
    """Every literal error code in the source, with one file that raises it."""
    classes = _error_classes()
    codes: dict[str, str] = {}
    for path in sorted(SOURCE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = path.relative_to(SOURCE).as_posix()
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            is_super_init = name == "__init__" and isinstance(func, ast.Attribute)
            if (name in classes or is_super_init) and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str) and first.value.islower():
                    codes.setdefault(first.value, where)
    # The API handler's own codes (framework errors and the last-resort answers).
    handler = (SOURCE / "api" / "errors.py").read_text(encoding="utf-8")
    for code in re.findall(r'"([a-z]+(?:_[a-z]+)+|[a-z]+)"', handler):
        # Not codes: the request parts and keys the handler reads, and pydantic's own error type.
        if code not in {
            "body",
            "query",
            "path",
            "header",
            "msg",
            "loc",
            "type",
            "error",
            "code",
            "message",
            "field",
            "json_invalid",
        }:
            codes.setdefault(code, "api/errors.py")
    return codes


def test_every_error_code_is_documented() -> None:
    codes = raised_codes()
    assert {"quote_expired", "idempotency_key_reused", "trade_state_conflict", "totp_required"} <= set(codes)
    text = DOC.read_text(encoding="utf-8")
    missing = sorted(f"{code} ({where})" for code, where in codes.items() if f"`{code}`" not in text)
    assert missing == [], f"document these error codes in docs/api.md: {missing}"


def test_every_reason_code_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = sorted(code for code in REASONS if f"`{code}`" not in text)
    assert missing == [], f"document these decision reason codes in docs/api.md: {missing}"


def test_readme_links_to_the_api_docs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/api.md" in readme


def test_the_route_heading_reader_can_fail() -> None:
    # A heading the reader cannot parse would make every route look undocumented, not pass.
    sample = "### `POST /api/v1/quotes`\n#### GET /api/v1/me\nPOST /api/v1/trades in prose\n"
    assert {(m, p) for m, p in HEADING.findall(sample)} == {("POST", "/api/v1/quotes"), ("GET", "/api/v1/me")}
