"""The simulated payout rail: bank accounts and transfers deduplicated by idempotency key."""

from __future__ import annotations

import asyncio
import re
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from voucher_exchange.sandbox import statements
from voucher_exchange.sandbox.store import (
    Account,
    SandboxError,
    SandboxStore,
    Transfer,
    TransferRequest,
)

_ACCOUNT_DIGITS = re.compile(r"\d{6,20}")


def normalize_account_number(value: str) -> str:
    """Digits only: banks print hyphens and spaces, but they are not part of the number."""
    digits = re.sub(r"[\s-]", "", value)
    if not _ACCOUNT_DIGITS.fullmatch(digits):
        raise ValueError("an account number is 6 to 20 digits")
    return digits


def mask(account_number: str) -> str:
    """Only the last four digits, as banks show it."""
    return "*" * max(len(account_number) - 4, 0) + account_number[-4:]


AccountNumber = Annotated[str, Field(max_length=40), AfterValidator(normalize_account_number)]
BankCode = Annotated[str, Field(pattern=r"^[0-9A-Za-z]{2,16}$")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AccountBody(_Body):
    """An account to register, with how its bank should behave."""

    bank_code: BankCode
    account_number: AccountNumber
    holder_name: str = Field(min_length=1, max_length=100)
    behavior: Literal["ok", "reject", "timeout"] = "ok"


class AccountLookupBody(_Body):
    """An account to look up (numbers travel in bodies, never in URLs)."""

    bank_code: BankCode
    account_number: AccountNumber


class TransferBody(_Body):
    """A transfer request; the key is what makes retries safe."""

    # URL-safe, because the key appears in GET /transfers/{key}.
    idempotency_key: str = Field(pattern=r"^[A-Za-z0-9._:~-]{1,128}$")
    bank_code: BankCode
    account_number: AccountNumber
    holder_name: str = Field(min_length=1, max_length=100)
    amount: int = Field(gt=0, le=10**12)
    currency: str = Field(pattern=r"^[A-Z]{3}$")


def _answer(transfer: Transfer) -> dict[str, object]:
    return {
        "idempotency_key": transfer.idempotency_key,
        "status": transfer.status,
        "amount": transfer.amount,
        "currency": transfer.currency,
        "rail_reference": transfer.rail_reference,
        "executed_at": transfer.executed_at,
    }


class RailBehaviorBody(_Body):
    """How slow the whole rail is from now: transfers stay `pending` this long before executing."""

    delay_seconds: int = Field(ge=0, le=86_400)


def rail_router(store: SandboxStore, hang_seconds: float) -> APIRouter:
    """The rail's endpoints over `store`."""
    router = APIRouter()

    @router.post("/accounts", status_code=201)
    async def register(body: AccountBody) -> dict[str, object]:
        account = Account(
            bank_code=body.bank_code,
            account_number=body.account_number,
            holder_name=body.holder_name,
            behavior=body.behavior,
        )
        await run_in_threadpool(store.upsert_account, account)
        return {"bank_code": body.bank_code, "masked": mask(body.account_number)}

    @router.post("/behavior")
    async def set_behavior(body: RailBehaviorBody) -> dict[str, object]:
        await run_in_threadpool(store.set_rail_delay, body.delay_seconds)
        return {"delay_seconds": body.delay_seconds}

    @router.get("/behavior")
    async def behavior() -> dict[str, object]:
        return {"delay_seconds": await run_in_threadpool(store.rail_delay)}

    @router.post("/accounts/lookup")
    async def lookup(body: AccountLookupBody) -> dict[str, object]:
        account = await run_in_threadpool(store.find_account, body.bank_code, body.account_number)
        return {
            "exists": account is not None,
            "holder_name": account.holder_name if account else None,
        }

    @router.post("/transfers")
    async def transfer(body: TransferBody) -> dict[str, object]:
        request = TransferRequest(
            idempotency_key=body.idempotency_key,
            bank_code=body.bank_code,
            account_number=body.account_number,
            holder_name=body.holder_name,
            amount=body.amount,
            currency=body.currency,
        )
        recorded, hang = await run_in_threadpool(store.transfer, request)
        if hang:
            # The money has moved; the caller just never hears so from this call.
            await asyncio.sleep(hang_seconds)
        return _answer(recorded)

    @router.get("/transfers/{idempotency_key}")
    async def status(idempotency_key: str) -> dict[str, object]:
        recorded = await run_in_threadpool(store.find_transfer, idempotency_key)
        if recorded is None:
            raise SandboxError(404, "transfer_not_found", "The rail never saw this key.")
        return _answer(recorded)

    @router.get("/transfers")
    async def executed(
        account_number: Annotated[str | None, Query(max_length=40)] = None,
    ) -> dict[str, object]:
        wanted = None
        if account_number is not None:
            try:
                wanted = normalize_account_number(account_number)
            except ValueError as exc:
                raise SandboxError(422, "invalid_input", str(exc)) from exc
        transfers = await run_in_threadpool(store.executed_transfers, wanted)
        return {
            "transfers": [
                {
                    **_answer(t),
                    "bank_code": t.bank_code,
                    "masked": mask(t.account_number),
                    "holder_name": t.holder_name,
                    "created_at": t.created_at,
                }
                for t in transfers
            ]
        }

    @router.get("/statements")
    async def statement(day: Annotated[date, Query(alias="date")]) -> Response:
        body = await run_in_threadpool(statements.rail_statement, store, day)
        filename = f"rail-statement-{day.isoformat()}.csv"
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    return router
