"""Schema-driven fuzzing of the whole API (issue 12, item 6): zero 5xx, zero responses off the schema.

Schemathesis reads `/openapi.json` from the running exchange (SQLite and PostgreSQL) and
generates requests for every operation — valid ones and invalid ones (wrong types,
missing fields, odd strings in bodies, paths and queries) — sent signed in as staff: the
review routes as a reviewer, every other route as an operator (who may call them all). Both
sign in the way production makes staff sign in: staff two-factor required, enrolled, and
`POST /sessions` with the password and a TOTP code; the run checks first that each token
passes the staff gate. Bounded by `EXAMPLES` cases per operation and mode. Log-out routes are
left out: they would revoke the tokens the rest of the run uses
(tests/e2e/test_abuse_limits.py covers them).
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance

from tests.support.exchange import Exchange
from voucher_exchange.accounts import service as accounts
from voucher_exchange.accounts import two_factor
from voucher_exchange.accounts.models import Role

pytestmark = pytest.mark.both_backends

# Per operation and mode; `make fuzz` raises it (VX_FUZZ_EXAMPLES) for a longer run.
EXAMPLES = int(os.environ.get("VX_FUZZ_EXAMPLES", "25"))
PASSWORD = "correct-horse-battery"


@pytest.fixture
def staff(exchange: Exchange) -> Iterator[dict[str, str]]:
    """Reviewer and operator `Authorization` headers from a log-in that passed a TOTP code.

    Staff two-factor is required for the run (the suite's exchange leaves it off for its
    helpers), as it is in production.
    """
    ctx = exchange.ctx
    settings = ctx.settings
    ctx.settings = settings.with_overrides(staff_two_factor=True)
    try:
        yield {role.value: _signed_in_with_totp(exchange, role) for role in (Role.REVIEWER, Role.OPERATOR)}
    finally:
        ctx.settings = settings


def _signed_in_with_totp(exchange: Exchange, role: Role) -> str:
    ctx = exchange.ctx
    email = f"fuzz-{role.value}-{uuid.uuid4().hex[:8]}@example.com"
    with ctx.uow() as uow:
        user = accounts.create_staff(uow.conn, email, PASSWORD, role, ctx.clock.now())
        if role is Role.OPERATOR:  # as the demo operator: every route, reveals included
            accounts.create_staff(uow.conn, email, PASSWORD, Role.REVEAL_CODES, ctx.clock.now())
        uow.commit()
    secret = pyotp.random_base32()
    two_factor.enrol_with(ctx, user, secret)  # spends the current step's code
    without = exchange.client().post("/sessions", {"email": email, "password": PASSWORD})
    assert (without.status_code, without.json()["error"]["code"]) == (401, "totp_required")
    code = pyotp.TOTP(secret).at(time.time() + 30)
    signed_in = exchange.client().post("/sessions", {"email": email, "password": PASSWORD, "totp": code})
    assert signed_in.status_code == 201, signed_in.text
    token = signed_in.json()["token"]
    gate = "/review/trades" if role is Role.REVIEWER else "/ledger/balances"
    assert exchange.client(token).get(gate).status_code == 200  # the token passes the staff gate
    return f"Bearer {token}"


def test_no_input_makes_a_server_error_or_an_answer_off_the_schema(
    exchange: Exchange, staff: dict[str, str]
) -> None:
    schema = schemathesis.openapi.from_url(exchange.base_url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    fuzzed = [
        op
        for op in operations
        if not (op.method.upper() == "DELETE" and op.path.startswith("/api/v1/sessions"))
    ]
    assert len(fuzzed) == len(operations) - 2 >= 15

    tally = {"requests": 0, "5xx": 0}
    started = time.perf_counter()
    failures: list[str] = []
    for operation in fuzzed:
        role = Role.REVIEWER if operation.path.startswith("/api/v1/review/") else Role.OPERATOR
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(operation, mode, staff[role.value], tally, failures)

    backend = "pg" if exchange.database_url.startswith("postgresql") else "sqlite"
    figures = f"{len(fuzzed)} operations, {tally['requests']} requests, {tally['5xx']} 5xx"
    figures += " (reviewer and operator signed in with TOTP)"
    print(f"\nschemathesis {backend}: {figures} in {time.perf_counter() - started:.0f} s")
    assert tally["5xx"] == 0
    assert failures == []


def _fuzz(
    operation: Any, mode: GenerationMode, token: str, tally: dict[str, int], failures: list[str]
) -> None:
    """Send EXAMPLES generated cases for one operation; record 5xx and answers off the schema."""

    @given(data=st.data())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=True,
    )
    def run(data: Any) -> None:
        case = data.draw(operation.as_strategy(generation_mode=mode))
        response = case.call(headers={"Authorization": token}, timeout=30)
        tally["requests"] += 1
        tally["5xx"] += response.status_code >= 500
        try:
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
        except Exception as exc:
            failures.append(f"{operation.label} [{mode.value}] {response.status_code}: {str(exc)[:300]}")

    with contextlib.suppress(Unsatisfiable):  # nothing to make invalid: no parameters, no body
        run()
