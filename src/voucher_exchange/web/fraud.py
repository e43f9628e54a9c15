"""Fraud pages: the public report form (anyone), and the staff cases pages."""

from __future__ import annotations

import json
import re
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form
from fastapi.responses import Response

from voucher_exchange.accounts.models import Role
from voucher_exchange.fraud import service as fraud_service
from voucher_exchange.fraud import views
from voucher_exchange.web import forms
from voucher_exchange.web.refusals import on_refusal
from voucher_exchange.web.render import page, redirect
from voucher_exchange.web.session import Page, Visitor, check_csrf
from voucher_exchange.web.staff_page import staff_page

router = APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)
_SPLIT = re.compile(r"[\s,;]+")
Field = Annotated[str, Form(max_length=400)]
Description = Annotated[str, Form(max_length=4000)]
ACTIONS = {"hold": fraud_service.hold, "release": fraud_service.release, "reverse": fraud_service.reverse}


def _codes(text: str) -> list[str]:
    # One code a line (or separated by commas); spaces inside a line are part of the code's grouping.
    lines = [line for line in re.split(r"[\n,;]+", text) if line.strip()]
    return [_SPLIT.sub("", line) for line in lines]


@router.get("/fraud-report")
def report_form(v: Page) -> Response:
    """Report vouchers taken in a scam or stolen (no account needed)."""
    return page(v, "fraud_report.html", form={})


@router.post("/fraud-report")
def report(
    v: Page,
    codes: forms.CodesText,
    name: Field,
    contact: Field,
    description: Description,
    police_case_number: Field = "",
) -> Response:
    """File the report; the answer page says the same whatever the codes."""
    typed = {
        "name": name,
        "contact": contact,
        "police_case_number": police_case_number,
        "description": description,
    }
    # The codes typed are never put back into the page.
    on_refusal(
        v,
        lambda refused: page(
            v, "fraud_report.html", status=refused.status, error=refused.message, form=typed
        ),
    )
    form = fraud_service.ReportForm(_codes(codes), name, contact, police_case_number or None, description)
    report_id = fraud_service.file_report(v.ctx, form, v.client_ip)
    return page(v, "fraud_report_sent.html", report_id=report_id)


@router.get("/staff/fraud")
def cases(v: Page) -> Response:
    """Fraud cases: open first, with the time from report to freeze."""
    v.staff(Role.REVIEWER)
    with v.ctx.uow(readonly=True) as uow:
        found = views.case_list(uow.conn)
    return staff_page(v, "staff/fraud_cases.html", cases=found)


def _case_page(v: Visitor, case_id: str, status: int = 200, **values: object) -> Response:
    staff = v.staff(Role.REVIEWER)
    with v.ctx.uow(readonly=True) as uow:
        found = views.case_view(uow.conn, v.ctx.vault, case_id[:36])
    return staff_page(
        v, "staff/fraud_case.html", status=status, c=found, may_reveal=staff.has(Role.REVEAL_CODES), **values
    )


@router.get("/staff/fraud/{case_id}")
def case(v: Page, case_id: str) -> Response:
    """One case: the report, its matches, freezes, linked sellers and the actions."""
    return _case_page(v, case_id)


@router.post("/staff/fraud/{case_id}/trades/{trade_id}")
def act(
    v: Page,
    case_id: str,
    trade_id: str,
    action: Annotated[Literal["hold", "release", "reverse"], Form()],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Hold, release, or reverse one matched trade through the issuer (audited)."""
    staff = v.staff(Role.REVIEWER)
    on_refusal(v, lambda refused: _case_page(v, case_id, status=refused.status, error=refused.message))
    ACTIONS[action](v.ctx, staff, case_id[:36], trade_id[:36], note)
    return redirect(v, f"/staff/fraud/{case_id[:36]}")


@router.post("/staff/fraud/{case_id}/close")
def close(v: Page, case_id: str, note: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """Close the case (audited)."""
    staff = v.staff(Role.REVIEWER)
    on_refusal(v, lambda refused: _case_page(v, case_id, status=refused.status, error=refused.message))
    fraud_service.close(v.ctx, staff, case_id[:36], note)
    return redirect(v, f"/staff/fraud/{case_id[:36]}")


@router.post("/staff/fraud/{case_id}/file")
def case_file(v: Page, case_id: str, reveal: Annotated[str, Form(max_length=5)] = "") -> Response:
    """Download the case file for law enforcement (audited; full account numbers need reveal_codes)."""
    staff = v.staff(Role.REVIEWER)
    on_refusal(v, lambda refused: _case_page(v, case_id, status=refused.status, error=refused.message))
    document = fraud_service.export_case_file(v.ctx, staff, case_id[:36], reveal == "1")
    body = json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True)
    return Response(
        body,
        media_type="application/json; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="case-{case_id[:8]}.json"',
            "Cache-Control": "no-store",
        },
    )
