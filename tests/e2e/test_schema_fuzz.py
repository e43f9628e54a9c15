"""Schema-driven fuzzing of the whole API (issue 12, item 6): zero 5xx, zero responses off the schema.

Schemathesis reads `/openapi.json` from the running exchange (SQLite and PostgreSQL) and
generates requests for every operation — valid ones and invalid ones (wrong types,
missing fields, odd strings in bodies, paths and queries) — sent signed in as the demo
operator, who may call every route. Bounded by `EXAMPLES` cases per operation and mode.
Log-out routes are left out: they would revoke the token the rest of the run uses
(tests/e2e/test_abuse_limits.py covers them).
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance

from tests.support.exchange import Exchange

pytestmark = pytest.mark.both_backends

# Per operation and mode; `make fuzz` raises it (VX_FUZZ_EXAMPLES) for a longer run.
EXAMPLES = int(os.environ.get("VX_FUZZ_EXAMPLES", "25"))


def test_no_input_makes_a_server_error_or_an_answer_off_the_schema(exchange: Exchange) -> None:
    token = str(exchange.operator().http.headers["Authorization"])
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
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(operation, mode, token, tally, failures)

    backend = "pg" if exchange.database_url.startswith("postgresql") else "sqlite"
    figures = f"{len(fuzzed)} operations, {tally['requests']} requests, {tally['5xx']} 5xx"
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
