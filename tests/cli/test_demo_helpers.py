"""The demo's helpers a newcomer uses beside `make run`: mail decoded, mint on the running port."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.support.cli import invoke_cli
from voucher_exchange.cli.common import RUNNING_SANDBOX_FILE, running_sandbox


def test_mail_shows_the_demos_e_mails_decoded_with_their_links(tmp_path: Path) -> None:
    folder = tmp_path / "var" / "mail"
    folder.mkdir(parents=True)
    message = EmailMessage()
    message["To"] = "seller@example.com"
    message["Subject"] = "이메일 주소를 확인해 주세요"
    # Korean text: the .eml body is base64, unreadable with cat.
    message.set_content(
        "48시간 안에 링크를 열어 주세요:\nhttp://127.0.0.1:8123/verify-email/vxl_abc123\n", cte="base64"
    )
    raw = message.as_bytes()
    assert b"verify-email" not in raw  # what `cat` would show
    (folder / "000001.eml").write_bytes(raw)
    shown = invoke_cli(tmp_path, "mail", "--to", "seller@example.com")
    assert shown.returncode == 0, shown.stderr
    assert "이메일 주소를 확인해 주세요" in shown.stdout
    assert "link: http://127.0.0.1:8123/verify-email/vxl_abc123" in shown.stdout
    assert invoke_cli(tmp_path, "mail", "--to", "nobody@example.com").returncode == 1


def test_sandbox_mint_finds_the_port_the_demo_runs_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    var = tmp_path / "var"
    var.mkdir()
    monkeypatch.delenv("PORT", raising=False)
    assert running_sandbox(var) == "http://127.0.0.1:8000/sandbox"
    monkeypatch.setenv("PORT", "8124")  # `make run PORT=8124`
    assert running_sandbox(var) == "http://127.0.0.1:8124/sandbox"
    monkeypatch.delenv("PORT")
    (var / RUNNING_SANDBOX_FILE).write_text("http://127.0.0.1:8123/sandbox\n")
    assert running_sandbox(var) == "http://127.0.0.1:8123/sandbox"
    # Nothing listens there: the command says where it looked.
    refused = invoke_cli(tmp_path, "sandbox", "mint", "--brand", "cultureland", "--face-value", "50000")
    assert refused.returncode == 2 and "127.0.0.1:8123" in refused.stderr
