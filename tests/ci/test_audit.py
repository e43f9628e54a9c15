"""`make audit` says plainly which packages it could not audit (security issue 22, item 6b).

pip-audit printed "No known vulnerabilities found" while 97 packages had been skipped;
`.ci/audit.py` reads its JSON instead. Fed pip-audit's own JSON shapes, no network needed.
"""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _audit() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ci_audit", ROOT / ".ci" / "audit.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _skipped(name: str, version: str) -> dict[str, Any]:
    return {
        "name": name,
        "skip_reason": f"Dependency not found on PyPI and could not be audited: {name} ({version})",
    }


EDITABLE = {"name": "voucher-exchange", "skip_reason": "distribution marked as editable"}


def test_make_audit_runs_the_honest_report() -> None:
    # --no-print-directory: under another make (make test from .ci/run) make names the folder.
    dry = subprocess.run(
        ["make", "-n", "--no-print-directory", "audit"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert dry.stdout.strip().splitlines()[-1] == ".venv/bin/python .ci/audit.py .venv/bin/pip-audit"


def test_skipped_packages_are_named_and_never_called_free_of_vulnerabilities() -> None:
    data = {
        "dependencies": [_skipped("alembic", "1.20.1"), _skipped("anyio", "4.16.0"), EDITABLE],
        "fixes": [],
    }

    lines, status = _audit().report(data)

    assert status == 0
    assert lines == [
        "NOT AUDITED: 2 of 2 packages could not be audited (not found on PyPI's advisory service, or no "
        "network): alembic 1.20.1, anyio 4.16.0",
        "Skipped (the local project, installed editable): voucher-exchange",
        "NOTHING WAS AUDITED: no dependency could be checked. Run `make audit` with network access.",
    ]
    assert not any("No known vulnerabilities found" in line for line in lines)


def test_some_audited_some_skipped_says_both() -> None:
    data = {
        "dependencies": [{"name": "httpx", "version": "0.28.1", "vulns": []}, _skipped("uvloop", "0.23.0")],
        "fixes": [],
    }

    lines, status = _audit().report(data)

    assert status == 0
    assert lines[-1] == (
        "No known vulnerabilities in the 1 package(s) audited; 1 were NOT audited (above). "
        "Run `make audit` with network access."
    )
    assert lines[0].startswith("NOT AUDITED: 1 of 2 packages") and lines[0].endswith(": uvloop 0.23.0")


def test_a_known_vulnerability_fails_the_audit() -> None:
    vuln = {"id": "GHSA-xxxx-yyyy-zzzz", "fix_versions": ["2.9.1"], "aliases": [], "description": "…"}
    data = {"dependencies": [{"name": "urllib3", "version": "2.8.0", "vulns": [vuln]}, EDITABLE], "fixes": []}

    lines, status = _audit().report(data)

    assert status == 1
    assert lines == [
        "VULNERABLE: urllib3 2.8.0: GHSA-xxxx-yyyy-zzzz (fixed in 2.9.1)",
        "1 known vulnerability in 1 package(s).",
        "Skipped (the local project, installed editable): voucher-exchange",
    ]


def test_no_known_vulnerabilities_only_when_every_dependency_was_audited() -> None:
    data = {
        "dependencies": [
            {"name": "httpx", "version": "0.28.1", "vulns": []},
            {"name": "anyio", "version": "4.16.0", "vulns": []},
            EDITABLE,
        ],
        "fixes": [],
    }

    lines, status = _audit().report(data)

    assert (status, lines[-1]) == (
        0,
        "No known vulnerabilities found in 2 packages (every dependency audited).",
    )
