"""`voucher-exchange issuers`: facts, a rule, an evaluation and a lift from the command line."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import invoke_cli
from tests.support.core import Core
from voucher_exchange.audit import service as audit
from voucher_exchange.catalog import service as catalog
from voucher_exchange.catalog.models import BrandStatus


def _cli(core: Core, tmp_path: Path, *args: str) -> str:
    env = {"VX_VAR_DIR": str(core.ctx.settings.var_dir)}
    done = invoke_cli(tmp_path, "issuers", *args, "--database-url", core.ctx.settings.database_url, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _status(core: Core) -> BrandStatus:
    with core.ctx.uow(readonly=True) as uow:
        return catalog.require_brand(uow.conn, "happymoney").status


def test_the_operator_suspends_an_unregistered_issuer_and_lifts_it_from_the_command_line(
    core: Core, tmp_path: Path
) -> None:
    with core.ctx.uow() as uow:  # the default catalog suspends happymoney: start from a live brand
        catalog.set_status(uow.conn, "happymoney", BrandStatus.ACTIVE, core.ctx.clock.now())
        uow.commit()
    _cli(core, tmp_path, "set", "happymoney", "--name", "해피머니아이엔씨", "--registration", "unregistered",
         "--exposure-limit", "1000000")  # fmt: skip
    assert "rule 1 added" in _cli(
        core, tmp_path, "rule", "--signal", "unregistered", "--threshold", "1", "--action", "suspend"
    )

    assert "1 action(s) taken: #1" in _cli(core, tmp_path, "evaluate")
    assert _status(core) is BrandStatus.SUSPENDED
    listed = _cli(core, tmp_path, "list")
    assert "happymoney" in listed and "#1 suspend" in listed and "unregistered=1" in listed

    assert "lifted #1 suspend on happymoney" in _cli(core, tmp_path, "lift", "1")
    assert _status(core) is BrandStatus.ACTIVE
    with core.ctx.uow(readonly=True) as uow:
        actions = [
            (r.actor, r.action)
            for r in reversed(audit.recent(uow.conn, 20))
            if r.action.startswith("issuer.")
        ]
    assert actions == [
        ("cli", "issuer.facts"),
        ("cli", "issuer.rule_added"),
        ("issuer-guard", "issuer.action"),
        ("cli", "issuer.action_lifted"),
    ]
