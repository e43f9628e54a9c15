"""Voucher codes, PINs and account numbers: AES-GCM at rest, HMAC fingerprints for lookups.

One 32-byte master key (a file under `var/keys/`, mode 0600) derives two keys with
HKDF: one encrypts, one fingerprints. Fingerprints are keyed so that a stolen
database cannot be brute-forced against the small space of voucher codes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from voucher_exchange.security.files import check_private, private_dir

KEY_BYTES = 32
NONCE_BYTES = 12
FORMAT_VERSION = b"\x01"


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=purpose).derive(master)


class Vault:
    """Encrypts and fingerprints secrets with keys derived from one master key."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != KEY_BYTES:
            raise ValueError("the master key must be 32 bytes")
        self._aead = AESGCM(_derive(master_key, b"voucher-exchange/encrypt/v1"))
        self._fp_key = _derive(master_key, b"voucher-exchange/fingerprint/v1")

    def encrypt(self, plaintext: bytes, context: bytes) -> bytes:
        """Ciphertext bound to `context` (e.g. the trade id), so rows cannot be swapped."""
        nonce = os.urandom(NONCE_BYTES)
        return FORMAT_VERSION + nonce + self._aead.encrypt(nonce, plaintext, context)

    def decrypt(self, blob: bytes, context: bytes) -> bytes:
        """The plaintext of `encrypt`; raises if tampered with or bound to another context."""
        if blob[:1] != FORMAT_VERSION:
            raise ValueError("unknown ciphertext format")
        nonce, body = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
        return self._aead.decrypt(nonce, body, context)

    def encrypt_json(self, value: dict[str, str | None], context: str) -> bytes:
        """Encrypt a small JSON object."""
        return self.encrypt(json.dumps(value, sort_keys=True).encode(), context.encode())

    def decrypt_json(self, blob: bytes, context: str) -> dict[str, str | None]:
        """Decrypt what `encrypt_json` made."""
        value: dict[str, str | None] = json.loads(self.decrypt(blob, context.encode()))
        return value

    def fingerprint(self, namespace: str, value: str) -> str:
        """A keyed hash for duplicate detection; equal inputs give equal fingerprints."""
        message = f"{namespace}\x00{value}".encode()
        return hmac.new(self._fp_key, message, hashlib.sha256).hexdigest()


def load_or_create_master_key(path: Path, create: bool) -> bytes:
    """Read the master key (refused if others can read it); create it (0600) when allowed and missing."""
    if path.exists():
        check_private(path)
        key = path.read_bytes()
        if len(key) != KEY_BYTES:
            raise ValueError(f"{path} is not a 32-byte key")
        return key
    if not create:
        raise FileNotFoundError(
            f"No encryption key at {path}. Start once with --demo, or put the key there (see docs/deploy.md)."
        )
    private_dir(path.parent)
    key = os.urandom(KEY_BYTES)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


def mask(secret: str) -> str:
    """Only the last four characters stay visible: `••••1234`."""
    return "••••" + secret[-4:]
