"""`make audit`: pip-audit over the installed dependencies, reported honestly.

pip-audit prints "No known vulnerabilities found" even when it could audit nothing (offline,
or packages PyPI's advisory service does not know): each skipped package is one line among
its columns. This wrapper reads its JSON and says what was audited and what was not:

- a known vulnerability: listed, exit 1;
- packages that could not be audited: "NOT AUDITED: N packages could not be audited …"
  with their names, exit 0 (CI runs offline too; the list is the finding to act on);
- "No known vulnerabilities found" only when every dependency was audited.

The project itself (installed editable, not on PyPI) is named as skipped on purpose.
Usage: python .ci/audit.py [PIP_AUDIT]   (default: pip-audit beside this Python)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

EDITABLE = "distribution marked as editable"


def report(data: dict[str, Any]) -> tuple[list[str], int]:
    """The lines to print for pip-audit's JSON, and the exit status (1 on a known vulnerability)."""
    deps = data.get("dependencies", [])
    audited = [d for d in deps if "skip_reason" not in d]
    editable = [d for d in deps if d.get("skip_reason") == EDITABLE]
    skipped = [d for d in deps if "skip_reason" in d and d.get("skip_reason") != EDITABLE]
    found = [(d, v) for d in audited for v in d.get("vulns", [])]
    lines = []
    for dep, vuln in found:
        fixes = ", ".join(vuln.get("fix_versions", [])) or "no fixed version yet"
        lines.append(f"VULNERABLE: {dep['name']} {dep.get('version', '?')}: {vuln['id']} (fixed in {fixes})")
    if found:
        packages = len({dep["name"] for dep, _ in found})
        lines.append(
            f"{len(found)} known vulnerabilit{'y' if len(found) == 1 else 'ies'} in {packages} package(s)."
        )
    if skipped:
        names = ", ".join(_named(d) for d in sorted(skipped, key=lambda d: d["name"]))
        lines.append(
            f"NOT AUDITED: {len(skipped)} of {len(deps) - len(editable)} packages could not be audited "
            f"(not found on PyPI's advisory service, or no network): {names}"
        )
    if editable:
        lines.append(
            "Skipped (the local project, installed editable): " + ", ".join(d["name"] for d in editable)
        )
    if not found:
        if not audited:
            lines.append(
                "NOTHING WAS AUDITED: no dependency could be checked. Run `make audit` with network access."
            )
        elif skipped:
            lines.append(
                f"No known vulnerabilities in the {len(audited)} package(s) audited; "
                f"{len(skipped)} were NOT audited (above). Run `make audit` with network access."
            )
        else:
            lines.append(
                f"No known vulnerabilities found in {len(audited)} packages (every dependency audited)."
            )
    return lines, 1 if found else 0


def _named(dep: dict[str, Any]) -> str:
    version = dep.get("version")
    if version is None:  # pip-audit puts the version only in the reason of a skipped package
        reason = str(dep.get("skip_reason", ""))
        version = reason.rsplit("(", 1)[-1].rstrip(")") if reason.endswith(")") else "?"
    return f"{dep['name']} {version}"


def main(argv: list[str]) -> int:
    """Run pip-audit and print the honest report; pip-audit's own failure is passed on."""
    tool = argv[1] if len(argv) > 1 else str(Path(sys.executable).with_name("pip-audit"))
    done = subprocess.run(  # noqa: S603  # our own tool, fixed arguments
        [tool, "--local", "--skip-editable", "--progress-spinner", "off", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        data = json.loads(done.stdout)
    except ValueError:
        sys.stderr.write(done.stderr)
        print(f"pip-audit failed (exit {done.returncode}); nothing was audited.")  # noqa: T201
        return done.returncode or 2
    lines, status = report(data)
    print("\n".join(lines))  # noqa: T201
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
