"""An exchange that mails through a local SMTP server, and the links in what it sent."""

from __future__ import annotations

import re
from email.message import EmailMessage

import httpx

from tests.support.exchange import Exchange
from tests.support.polling import poll_until
from voucher_exchange.notifications.local import Inbox

LINK = re.compile(r"https?://\S+/(password-reset|verify-email)/(vxl_[A-Za-z0-9_-]+)")


class Mailed:
    """An exchange that mails, and its inbox."""

    def __init__(self, exchange: Exchange, inbox: Inbox) -> None:
        self.exchange, self.inbox = exchange, inbox

    def api(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.exchange.base_url + "/api/v1", headers=headers, timeout=30)

    def mails(self, to: str, count: int) -> list[EmailMessage]:
        return poll_until(
            lambda: (m := self.inbox.to(to)) and len(m) >= count and m, 15, what=f"mail to {to}"
        )

    def link(self, to: str, count: int) -> str:
        body = self.mails(to, count)[count - 1].get_content()
        found = LINK.search(body)
        assert found, body
        return found.group(2)
