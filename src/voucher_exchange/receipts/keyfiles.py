"""Receipt-signing private keys: one file per key under `var/keys/receipts/`, mode 0600.

A file holds the 32 raw bytes of an Ed25519 private key and is named `<key_id>.key`.
Its public half is registered in the database (and published); the private half never
leaves this directory: not printed, not logged, not stored in the database.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from voucher_exchange.receipts.models import key_id_for

PRIVATE_KEY_BYTES = 32


def _path(key_dir: Path, key_id: str) -> Path:
    if not key_id.isalnum():
        raise ValueError("a key id is hexadecimal")
    return key_dir / f"{key_id}.key"


def create(key_dir: Path) -> tuple[str, bytes]:
    """A new private key written to its own file (0600, never overwritten); returns (key_id, public key)."""
    key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    private_key = Ed25519PrivateKey.generate()
    public_key = private_key.public_key().public_bytes_raw()
    key_id = key_id_for(public_key)
    fd = os.open(_path(key_dir, key_id), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private_key.private_bytes_raw())
    return key_id, public_key


def load(key_dir: Path, key_id: str) -> Ed25519PrivateKey | None:
    """The private key with this id, or None when this host does not hold it."""
    path = _path(key_dir, key_id)
    if not path.is_file():
        return None
    raw = path.read_bytes()
    if len(raw) != PRIVATE_KEY_BYTES:
        raise ValueError(f"{path} is not a 32-byte Ed25519 private key")
    private_key = Ed25519PrivateKey.from_private_bytes(raw)
    if key_id_for(private_key.public_key().public_bytes_raw()) != key_id:
        raise ValueError(f"{path} does not hold the key its name says")
    return private_key


def remove(key_dir: Path, key_id: str) -> bool:
    """Delete a retired private key's file; True when there was one."""
    path = _path(key_dir, key_id)
    if path.is_file():
        path.unlink()
        return True
    return False


def held(key_dir: Path, key_id: str) -> bool:
    """True when this host holds the private key."""
    return _path(key_dir, key_id).is_file()
