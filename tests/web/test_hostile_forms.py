"""Whatever arrives in a form, a page answers with a 2xx/3xx/4xx — never a 5xx — and leaks no secret."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.web.conftest import Site
from tests.web.test_security import _csrf, _log_in
from voucher_exchange.demo import DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD

# Every form the site has, with the fields it expects.
FORMS = {
    "/language": ["lang", "next"],
    "/signup": ["email", "password", "consent_terms", "consent_privacy", "consent_marketing"],
    "/login": ["email", "password", "next"],
    "/account/identity": ["legal_name", "birth_date", "phone", "nationality"],
    "/account/payout-accounts": ["bank_code", "account_number", "holder_name"],
    "/quotes": ["brand", "face"],
    "/sell/{id}": ["code", "pin", "method", "acquired_on", "payout_destination_id"],
    "/sell/batch": ["brand", "face", "method", "acquired_on", "payout_destination_id", "codes"],
    "/sell/batch/{id}": [],
    "/account/payout-accounts/confirm": ["check"],
    "/account/payout-accounts/{id}/default": [],
    "/account/payout-accounts/{id}/remove": [],
    "/account/developers/keys": ["name", "scopes", "allowed_ips", "expires_in_days"],
    "/account/developers/keys/{id}/roll": ["overlap_hours"],
    "/account/developers/keys/{id}/revoke": [],
    "/account/developers/endpoints": ["url", "description", "events"],
    "/account/developers/endpoints/{id}/test": [],
    "/account/developers/endpoints/{id}/rotate-secret": ["overlap_hours"],
    "/account/developers/endpoints/{id}/replay": ["since"],
    "/account/developers/endpoints/{id}/delete": [],
    "/trades/{id}/cancel": [],
    "/staff/review/{id}/decision": ["outcome", "note", "reason"],
    "/staff/review/{id}/reveal": [],
    "/staff/review/{id}/reveal-request": [],
    "/staff/review/reveal-requests/{id}/approve": ["trade_id"],
    "/staff/brands/{id}/rates": ["min_face_0", "rate_0", "min_face_1", "rate_1"],
    "/staff/brands/{id}/status": ["status"],
    "/staff/payouts/{id}/retry": [],
    "/staff/treasury/fund": ["amount", "reference"],
    "/staff/team": ["email", "role"],
    "/staff/team/{id}/roles": ["roles"],
    "/staff/team/requests/{id}/approve": [],
    "/staff/team/requests/{id}/decline": [],
    "/staff/business": [
        "business_name",
        "representative",
        "support_phone",
        "support_email",
        "kakao_channel_url",
    ],
    "/staff/terms": ["kind", "title", "body", "title_en", "body_en", "effective_on", "step"],
}
text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        ["", "0", "-1", "1e9999", "NaN", "2026-02-30", "cultureland", "approve", "paid", "../..", "%00"]
    ),
    st.text(alphabet="0123456789,.", max_size=25),
)


@pytest.fixture(scope="module")
def operator_client(site: Site) -> httpx.Client:
    client = httpx.Client(base_url=site.url, timeout=20)
    _log_in(client, DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD)
    return client


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(sorted(FORMS)),
    ident=st.sampled_from(["cultureland", "00000000-0000-0000-0000-000000000000", "x" * 80, "%2e%2e"]),
    values=st.lists(text, min_size=6, max_size=6),
)
def test_no_form_input_gives_a_server_error(
    operator_client: httpx.Client, path: str, ident: str, values: list[str]
) -> None:
    data = dict(zip(FORMS[path], values, strict=False))
    data["csrf_token"] = _csrf(operator_client, "/account")
    # What other tests rely on stays put: the operator's role and language, the brands on sale.
    if path == "/staff/team/{id}/roles":
        data["roles"] = "operator"
    if path == "/language":
        data["lang"] = "ko"
    if path.startswith("/staff/brands/"):
        ident = "happymoney" if ident == "cultureland" else ident
        data["status"] = "suspended"
    response = operator_client.post(path.replace("{id}", ident), data=data)
    assert response.status_code < 500, (path, data, response.text[:300])
    assert "Traceback" not in response.text
