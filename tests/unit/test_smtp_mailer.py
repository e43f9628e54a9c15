"""The SMTP client keeps one connection per sending thread, against the demo's own SMTP catcher."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.polling import poll_until
from voucher_exchange.errors import ExternalUnavailable
from voucher_exchange.notifications.local import Inbox, start_local_smtp
from voucher_exchange.notifications.smtp import SmtpMailer


@pytest.fixture
def catcher() -> Iterator[tuple[Inbox, int]]:
    controller, inbox, port = start_local_smtp()
    yield inbox, port
    controller.stop()


def test_one_connection_carries_several_mails(catcher: tuple[Inbox, int]) -> None:
    inbox, port = catcher
    mailer = SmtpMailer("127.0.0.1", port, "exchange@example.com", 5.0)

    for n in range(4):
        mailer.send("seller@example.com", f"notice {n}", "body", "ko")
    mailer.close()

    assert [m["Subject"] for m in inbox.messages] == ["notice 0", "notice 1", "notice 2", "notice 3"]
    assert len(inbox.peers) == 4 and len(set(inbox.peers)) == 1


def test_each_sending_thread_has_its_own_connection(catcher: tuple[Inbox, int]) -> None:
    inbox, port = catcher
    mailer = SmtpMailer("127.0.0.1", port, "exchange@example.com", 5.0)

    def two(name: str) -> None:
        mailer.send("seller@example.com", f"{name} 1", "body", "en")
        mailer.send("seller@example.com", f"{name} 2", "body", "en")

    threads = [threading.Thread(target=two, args=(name,)) for name in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    mailer.close()

    by_subject = dict(zip([m["Subject"] for m in inbox.messages], inbox.peers, strict=True))
    assert len(by_subject) == 4
    assert by_subject["a 1"] == by_subject["a 2"] != by_subject["b 1"] == by_subject["b 2"]


def test_a_dropped_connection_is_replaced_and_no_mail_is_lost() -> None:
    controller, inbox, port = start_local_smtp()
    mailer = SmtpMailer("127.0.0.1", port, "exchange@example.com", 5.0)
    mailer.send("seller@example.com", "before", "body", "en")
    controller.stop()  # the server goes away with our connection open

    with pytest.raises(ExternalUnavailable):
        mailer.send("seller@example.com", "while down", "body", "en")
    restarted, again, _ = start_local_smtp(port)
    try:
        mailer.send("seller@example.com", "after", "body", "en")
        mailer.close()
        poll_until(lambda: again.messages, timeout=5, what="the mail after the restart")
    finally:
        restarted.stop()

    assert [m["Subject"] for m in inbox.messages] == ["before"]
    assert [m["Subject"] for m in again.messages] == ["after"]


def test_the_demo_catcher_writes_files_and_keeps_nothing_in_memory(tmp_path: Path) -> None:
    controller, inbox, port = start_local_smtp(folder=tmp_path / "mail")
    mailer = SmtpMailer("127.0.0.1", port, "exchange@example.com", 5.0)
    try:
        for n in range(3):
            mailer.send("seller@example.com", f"notice {n}", "body", "ko")
        mailer.close()
        poll_until(lambda: inbox.received == 3, timeout=5, what="three mails")
    finally:
        controller.stop()

    assert sorted(p.name for p in (tmp_path / "mail").iterdir()) == ["000001.eml", "000002.eml", "000003.eml"]
    assert b"Subject: notice 2" in (tmp_path / "mail" / "000003.eml").read_bytes()
    assert (inbox.messages, inbox.peers) == ([], [])
