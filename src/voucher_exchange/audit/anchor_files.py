"""The default anchor store, a directory of files, and the anchor-signing key file.

Each anchor is its own file, `anchor-00000001.json` (0600, in a 0700 directory), written to a
temporary name, flushed to disk and then hard-linked to its final name: the link fails if the
name exists, so an anchor is never overwritten and never half written. The directory belongs
on storage the database's administrators cannot write (another host's mount, a WORM volume).

The signing key is 32 raw bytes of an Ed25519 private key (0600), made on the first anchor;
it is never stored in the database, printed or logged.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from voucher_exchange.ports.anchors import AnchorTaken, StoredAnchor
from voucher_exchange.security.files import check_private, private_dir

PRIVATE_KEY_BYTES = 32
_NAME = re.compile(r"anchor-(\d{1,12})\.json")


class AnchorDirectory:
    """Anchors as one file each in a directory (the AnchorStore port)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def where(self) -> str:
        """The directory."""
        return str(self.path)

    def append(self, seq: int, document: bytes) -> str:
        """Write `anchor-<seq>.json` durably; AnchorTaken when it exists already."""
        if not self.path.is_dir():  # an existing directory may be a mount another user owns: left as it is
            private_dir(self.path)
        name = f"anchor-{seq:08d}.json"
        temporary = self.path / f".{name}.{uuid.uuid4().hex}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(document)
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(temporary, self.path / name)
            except FileExistsError as exc:
                raise AnchorTaken(f"{self.path / name} exists already") from exc
        finally:
            temporary.unlink(missing_ok=True)
        directory = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return name

    def list(self) -> Sequence[StoredAnchor]:
        """Every `anchor-*.json` file by number (a name that is not a number comes as seq 0)."""
        if not self.path.is_dir():
            return []
        found = []
        for file in self.path.glob("anchor-*.json"):
            match = _NAME.fullmatch(file.name)
            found.append(StoredAnchor(file.name, int(match.group(1)) if match else 0))
        return sorted(found, key=lambda s: (s.seq, s.name))

    def read(self, name: str) -> bytes:
        """The file's bytes (a name from `list`, never a path)."""
        if "/" in name or name.startswith("."):
            raise ValueError(f"{name!r} is not an anchor's name")
        return (self.path / name).read_bytes()


def load_signing_key(path: Path, create: bool) -> Ed25519PrivateKey | None:
    """The anchor-signing key (refused if others can read it); made (0600) when `create` and missing."""
    if not path.exists():
        if not create:
            return None
        private_dir(path.parent)
        with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(Ed25519PrivateKey.generate().private_bytes_raw())
                fh.flush()
                os.fsync(fh.fileno())
    check_private(path)
    raw = path.read_bytes()
    if len(raw) != PRIVATE_KEY_BYTES:
        raise ValueError(f"{path} is not a 32-byte Ed25519 private key")
    return Ed25519PrivateKey.from_private_bytes(raw)
