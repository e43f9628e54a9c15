"""`mail`: the demo's e-mails (var/mail/*.eml) decoded, with their links, newest last."""

from __future__ import annotations

import re
from email import policy
from email.parser import BytesParser
from typing import Annotated

import typer
from rich.markup import escape

from voucher_exchange.cli.common import console, err
from voucher_exchange.config import load_settings

_LINK = re.compile(r"https?://\S+")


def mail(
    to: Annotated[str | None, typer.Option(help="Only e-mails to this address.")] = None,
    last: Annotated[int, typer.Option(help="How many of the newest to show.")] = 5,
) -> None:
    """Show the e-mails the demo caught (`serve --demo` writes them to var/mail/), decoded."""
    folder = load_settings().var_dir / "mail"
    files = sorted(folder.glob("*.eml")) if folder.is_dir() else []
    messages = []
    for path in files:
        with path.open("rb") as handle:
            message = BytesParser(policy=policy.default).parse(handle)
        if to is None or to.lower() in str(message["To"]).lower():
            messages.append((path, message))
    if not messages:
        err.print(f"No e-mails in {folder}/ yet" + (f" to {to}" if to else "") + ".")
        raise typer.Exit(1)
    for path, message in messages[-max(1, last) :]:
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        console.print(f"[bold]{escape(path.name)}[/bold]  to {escape(str(message['To']))}")
        console.print(f"  Subject: {escape(str(message['Subject']))}")
        console.print(escape(text.rstrip()), highlight=False)
        for link in _LINK.findall(text):
            console.print(f"  link: {escape(link)}", highlight=False)
        console.print()
