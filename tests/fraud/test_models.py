"""A fraud report's rules as plain values: validation with stable codes, masking, the median."""

from __future__ import annotations

import pytest

from voucher_exchange.errors import InvalidInput
from voucher_exchange.fraud import models


def test_codes_are_normalised_deduplicated_and_masked() -> None:
    report = models.validate(
        ["4180-1234-5678-9012", "418012345678 9012", "ab12cd34ef"], " 김피해 ", "010-1234-5678", "", "피해"
    )
    assert report.codes == ["4180123456789012", "AB12CD34EF"]
    assert (report.reporter.name, report.police_case_number) == ("김피해", None)
    assert models.mask("4180123456789012") == "••••9012"


@pytest.mark.parametrize(
    ("codes", "name", "contact", "police", "description", "code"),
    [
        ([], "n", "010", None, "d", "codes_required"),
        (["A1B2C3D4"] * 21, "n", "010", None, "d", "too_many_codes"),
        (["A1B2C"], "n", "010", None, "d", "code_invalid"),
        (["A1B2C3D4/"], "n", "010", None, "d", "code_invalid"),
        (["가나다라마바"], "n", "010", None, "d", "code_invalid"),
        (["A1B2C3D4"], "", "010", None, "d", "reporter_name_invalid"),
        (["A1B2C3D4"], "n", "01", None, "d", "reporter_contact_invalid"),
        (["A1B2C3D4"], "n", "010", "9" * 65, "d", "police_case_number_invalid"),
        (["A1B2C3D4"], "n", "010", None, "", "description_invalid"),
    ],
    ids=["none", "too-many", "short", "symbol", "hangul", "name", "contact", "police", "description"],
)
def test_bad_reports_are_refused_with_stable_codes(
    codes: list[str], name: str, contact: str, police: str | None, description: str, code: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        models.validate(codes, name, contact, police, description)
    assert refused.value.code == code


def test_the_median_time_to_freeze() -> None:
    assert models.median_seconds([]) is None
    assert models.median_seconds([0.5, 0.02, 3.0]) == 0.5
    assert models.median_seconds([1.0, 2.0]) == 1.5
