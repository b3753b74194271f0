"""Decryption of request parameters, exactly as the SenseID operation manual §2 describes.

Two wire forms are accepted, both standard base64:

* **manual form** ``ciphertext ‖ tag`` encrypted under the deployment's fixed IV
  (``PARAM_DECRYPT_IV``). This is what every existing SenseID client sends. Because the IV never
  changes, two messages under one key reuse a GCM nonce, which leaks the XOR of their plaintexts
  and lets an observer forge tags; it is kept only for compatibility.
* **nonce form** ``nonce(12) ‖ ciphertext ‖ tag`` with a fresh random nonce per message, which
  new clients should use (``facegate encrypt --nonce``).

The manual form is tried first; on an authentication failure the nonce form is tried. A random
12-byte prefix that happens to authenticate under the wrong form has probability 2^-128.
"""

from __future__ import annotations

import os
import re

import pybase64
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from facegate.core.errors import Code, FacegateError

KEY_LENGTH = 32
IV_LENGTH = 12
TAG_LENGTH = 16

_WHITESPACE = re.compile(rb"[\r\n\t]")


class Cipher:
    """AES-256-GCM with the key and IV taken as the UTF-8 bytes of the configured strings."""

    def __init__(self, key: str, iv: str) -> None:
        key_bytes = key.encode("utf-8")
        iv_bytes = iv.encode("utf-8")
        if len(key_bytes) != KEY_LENGTH:
            raise ValueError(f"PARAM_DECRYPT_KEY must be {KEY_LENGTH} bytes, got {len(key_bytes)}")
        if len(iv_bytes) != IV_LENGTH:
            raise ValueError(f"PARAM_DECRYPT_IV must be {IV_LENGTH} bytes, got {len(iv_bytes)}")
        self._aead = AESGCM(key_bytes)
        self._iv = iv_bytes

    def encrypt(self, data: bytes, *, random_nonce: bool = False) -> str:
        if random_nonce:
            nonce = os.urandom(IV_LENGTH)
            return pybase64.b64encode(nonce + self._aead.encrypt(nonce, data, None)).decode("ascii")
        return pybase64.b64encode(self._aead.encrypt(self._iv, data, None)).decode("ascii")

    def decrypt(self, text: str | bytes, field: str) -> bytes:
        """Base64-decode and decrypt one parameter; any failure is code 1200 naming ``field``."""
        raw = decode_base64(text, field)
        if len(raw) < TAG_LENGTH:
            raise FacegateError(
                Code.INVALID_ARGUMENT, f"{field} is too short to be AES-GCM data ({len(raw)} bytes)"
            )
        try:
            return self._aead.decrypt(self._iv, raw, None)
        except InvalidTag:
            pass
        if len(raw) >= IV_LENGTH + TAG_LENGTH:
            try:
                return self._aead.decrypt(raw[:IV_LENGTH], raw[IV_LENGTH:], None)
            except InvalidTag:
                pass
        raise FacegateError(
            Code.INVALID_ARGUMENT,
            f"{field} could not be decrypted (wrong key or IV, or the data was altered or cut)",
        )


def decode_base64(text: str | bytes, field: str) -> bytes:
    """Standard base64, tolerant of what form encoders and the manual's curl samples do to it.

    ``curl -d encrypted_image=…`` sends base64 unescaped, so every ``+`` arrives as a space after
    form decoding; line breaks from MIME-style encoders are dropped.
    """
    data = text.encode("ascii", "replace") if isinstance(text, str) else text
    data = _WHITESPACE.sub(b"", data).strip().replace(b" ", b"+")
    if not data:
        raise FacegateError(Code.INVALID_ARGUMENT, f"{field} is empty")
    try:
        return pybase64.b64decode(data, validate=True)
    except ValueError as exc:
        raise FacegateError(
            Code.INVALID_ARGUMENT, f"{field} is not valid base64 ({len(data)} characters)"
        ) from exc
