"""Local files hold keys, the SQLite database, sandbox state and e-mails: owner-only.

`var/` and every directory under it are 0700 and every file 0600; the process creates
new files with umask 077; a key file anyone else can read is refused, not used.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


class KeyFileExposed(Exception):
    """The key file can be read by users other than its owner."""


def check_private(path: Path) -> None:
    """Refuse a key file that group or others may read or write."""
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise KeyFileExposed(
            f"{path} is readable by other users (mode {mode:o}); the key must be private. "
            f"Run: chmod 600 {path}  (and chmod 700 {path.parent})"
        )


def private_dir(path: Path) -> None:
    """Create a directory (and its parents) that only the owner may enter (0700)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)


def secure_var_dir(var_dir: Path) -> None:
    """Make `var_dir` owner-only (0700 dirs, 0600 files) and create new files that way.

    Key files are left as they are: an exposed key must be noticed and replaced, not
    silently hidden, so `check_private` refuses it when it is loaded.
    """
    os.umask(0o077)
    private_dir(var_dir)
    for root, dirs, files in os.walk(var_dir):
        # Other processes (a worker, the sandboxes) may remove files meanwhile.
        with contextlib.suppress(FileNotFoundError):
            for name in dirs:
                (Path(root) / name).chmod(0o700)
        for name in files:
            path = Path(root) / name
            if not path.is_symlink() and not name.endswith((".key", ".key.old")):
                with contextlib.suppress(FileNotFoundError):
                    path.chmod(0o600)
