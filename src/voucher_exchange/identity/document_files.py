"""The encrypted files of identity documents under `var/identity-documents/` (0700 dir, 0600 files).

A file holds the vault's AES-GCM ciphertext of the upload, bound to the document's id: neither
the image bytes nor their magic numbers are on disk, and a file renamed to another document's
name does not decrypt.
"""

from __future__ import annotations

import os
from pathlib import Path

from voucher_exchange.security.files import private_dir
from voucher_exchange.security.vault import Vault


def file_name(document_id: str) -> str:
    """The name a document's file has (its id; nothing about the person)."""
    return f"{document_id}.enc"


def _context(document_id: str) -> bytes:
    return f"identity-document:{document_id}".encode()


def write(directory: Path, vault: Vault, document_id: str, plaintext: bytes) -> str:
    """Encrypt and write a document's file atomically; its file name."""
    private_dir(directory)
    name = file_name(document_id)
    final = directory / name
    partial = directory / f".{name}.partial"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(vault.encrypt(plaintext, _context(document_id)))
        fh.flush()
        os.fsync(fh.fileno())
    partial.replace(final)
    return name


def read(directory: Path, vault: Vault, document_id: str, name: str) -> bytes:
    """The plaintext of a document's file; raises if it is missing or was tampered with."""
    return vault.decrypt((directory / Path(name).name).read_bytes(), _context(document_id))


def delete(directory: Path, name: str) -> None:
    """Remove a document's file (nothing when it is already gone)."""
    (directory / Path(name).name).unlink(missing_ok=True)


def _rotated(directory: Path, name: str) -> Path:
    return directory / f"{Path(name).name}.rotated"


def write_rotated(directory: Path, old: Vault, new: Vault, document_id: str, name: str) -> None:
    """Master-key rotation, step one: the file re-encrypted with `new` beside the original."""
    plaintext = read(directory, old, document_id, name)
    target = _rotated(directory, name)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(new.encrypt(plaintext, _context(document_id)))
        fh.flush()
        os.fsync(fh.fileno())


def install_rotated(directory: Path, name: str) -> None:
    """Step two, once the database's rotation committed: the re-encrypted file replaces the original."""
    _rotated(directory, name).replace(directory / Path(name).name)


def discard_rotated(directory: Path, name: str) -> None:
    """The rotation rolled back: drop the re-encrypted copy (the original still opens with the old key)."""
    _rotated(directory, name).unlink(missing_ok=True)
