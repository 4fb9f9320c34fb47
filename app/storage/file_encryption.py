"""Parse's encrypted files (`encryptionKey` of its files adapters): AES-256-GCM, written so that Parse Server and
ParseQL read each other's files.

A file on disk is the ciphertext, then the 16-byte IV it was encrypted with, then GCM's 16-byte authentication tag;
the AES key is the first 32 characters of the base64 SHA-256 of the configured key, used as 32 bytes of text.
Both directions stream: a sealer turns chunks into ciphertext and ends with the IV and tag, an opener turns
ciphertext back into chunks and checks the tag when it ends (a wrong key or a changed byte fails there).
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

IV_SIZE = 16
TAG_SIZE = 16
OVERHEAD = IV_SIZE + TAG_SIZE

__all__ = ["OVERHEAD", "FileEncryption", "InvalidTag", "Opener", "Sealer"]


class Sealer:
    """Encrypts one file, chunk by chunk; `finish` gives the last ciphertext bytes with the IV and tag after them."""

    def __init__(self, key: bytes) -> None:
        self._iv = secrets.token_bytes(IV_SIZE)
        self._context = Cipher(algorithms.AES(key), modes.GCM(self._iv)).encryptor()

    def update(self, chunk: bytes) -> bytes:
        return self._context.update(chunk)

    def finish(self) -> bytes:
        last = self._context.finalize()
        return last + self._iv + self._context.tag


class Opener:
    """Decrypts one file's ciphertext, chunk by chunk; `finish` raises InvalidTag unless every byte was genuine."""

    def __init__(self, key: bytes, trailer: bytes) -> None:
        iv, tag = trailer[:IV_SIZE], trailer[IV_SIZE:]
        self._context = Cipher(algorithms.AES(key), modes.GCM(iv, tag)).decryptor()

    def update(self, chunk: bytes) -> bytes:
        return self._context.update(chunk)

    def finish(self) -> bytes:
        return self._context.finalize()


class FileEncryption:
    """One configured key, for sealing new files and opening stored ones."""

    def __init__(self, key: str) -> None:
        # Parse derives the key this way and hands the 32 characters to Node as a UTF-8 string, hence the bytes.
        self._key = base64.b64encode(hashlib.sha256(key.encode()).digest())[:32]

    def sealer(self) -> Sealer:
        return Sealer(self._key)

    def opener(self, trailer: bytes) -> Opener:
        """`trailer`: the last OVERHEAD bytes of the stored file (its IV and tag)."""
        return Opener(self._key, trailer)
