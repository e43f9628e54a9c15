"""Fraud reports: anyone (a victim, the police) without a credential, or an issuer with an API key.

The answer is the same whether or not a code was ever seen here: 202 `{report_id}`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from pydantic import Field

from voucher_exchange.api.deps import Bearer, Ctx, IdempotencyKey, authenticate
from voucher_exchange.api.schemas import Body
from voucher_exchange.api.scopes import route_template
from voucher_exchange.apikeys.models import is_key
from voucher_exchange.fraud import service as fraud_service
from voucher_exchange.security.input_policy import Line, Lines

router = APIRouter()


class ReporterIn(Body):
    """Who reports: a name and a phone number or e-mail address."""

    name: Annotated[Line, Field(max_length=400)]
    contact: Annotated[Line, Field(max_length=400)]


class FraudReportIn(Body):
    """POST /fraud-reports (the use case checks the bounds and answers with stable codes)."""

    codes: Annotated[list[Annotated[Line, Field(max_length=200)]], Field(max_length=100)]
    reporter: ReporterIn
    police_case_number: Annotated[Line | None, Field(max_length=200)] = None
    description: Annotated[Lines, Field(max_length=20000)]


@router.post("/fraud-reports", status_code=202)
def report_fraud(
    body: FraudReportIn,
    request: Request,
    ctx: Ctx,
    authorization: Annotated[str | None, Header(max_length=400)] = None,
    key: IdempotencyKey = None,
) -> dict[str, str]:
    """Report vouchers as stolen or scam-sourced → 202 `{report_id}`, the same for any code.

    Limited per address and per contact (429 `rate_limited`). An issuer sends its API key
    (scope `fraud_reports:write`, and may send `Idempotency-Key`); a session token is not looked
    at (anyone may report).
    """
    ip = request.client.host if request.client else None
    issuer = None
    if authorization and authorization.startswith("Bearer ") and is_key(token := authorization[7:].strip()):
        template = route_template(request.scope) or request.url.path
        issuer = authenticate(ctx, Bearer(token, (request.method, template), ip))
    form = fraud_service.ReportForm(
        codes=list(body.codes),
        name=body.reporter.name,
        contact=body.reporter.contact,
        police_case_number=body.police_case_number,
        description=body.description,
    )
    return {"report_id": fraud_service.file_report(ctx, form, ip, issuer, key)}
