"""Account e-mails are worded by notifications from the stable names accounts hand over."""

from __future__ import annotations

import pytest

from voucher_exchange.accounts.mail import LINK_PATHS
from voucher_exchange.accounts.models import LinkPurpose, Notice
from voucher_exchange.notifications.accounts import compose_link, compose_notice


@pytest.mark.parametrize("purpose", sorted(LINK_PATHS))  # the purposes that are mailed
@pytest.mark.parametrize("lang", ["ko", "en"])
def test_every_link_purpose_is_worded(purpose: LinkPurpose, lang: str) -> None:
    subject, body = compose_link(purpose.value, lang, "https://x.test/link/tok")
    assert subject and "https://x.test/link/tok" in body.splitlines()
    assert set(LINK_PATHS) < set(LinkPurpose)


@pytest.mark.parametrize("notice", list(Notice))
@pytest.mark.parametrize("lang", ["ko", "en"])
def test_every_security_notice_is_worded(notice: Notice, lang: str) -> None:
    subject, body = compose_notice(notice.value, lang, "https://x.test/password-reset")
    assert subject and "https://x.test/password-reset" in body.splitlines()
