from __future__ import annotations

import base64
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st

from facegate.core.crypto import Cipher, decode_base64
from facegate.core.errors import Code, FacegateError

KEY = "dcbbad6765e14139a07d34b92292a672"
IV = "df25d188a061"


def manual_encrypt(data: bytes, key: str = KEY, iv: str = IV) -> str:
    """The manual's recipe, written independently: key and IV as UTF-8 bytes, tag appended."""
    return base64.b64encode(AESGCM(key.encode()).encrypt(iv.encode(), data, None)).decode()


def test_decrypts_the_manual_form() -> None:
    c = Cipher(KEY, IV)
    assert c.decrypt(manual_encrypt(b"hello world"), "f") == b"hello world"


def test_decrypts_the_nonce_form() -> None:
    c = Cipher(KEY, IV)
    nonce = os.urandom(12)
    text = base64.b64encode(nonce + AESGCM(KEY.encode()).encrypt(nonce, b"payload", None)).decode()
    assert c.decrypt(text, "f") == b"payload"
    assert c.decrypt(c.encrypt(b"x" * 100, random_nonce=True), "f") == b"x" * 100


def test_nonce_form_differs_every_time() -> None:
    c = Cipher(KEY, IV)
    assert c.encrypt(b"same", random_nonce=True) != c.encrypt(b"same", random_nonce=True)
    assert c.encrypt(b"same") == c.encrypt(b"same")  # the manual's fixed IV: deterministic


def test_plus_sent_unescaped_arrives_as_space_and_is_accepted() -> None:
    c = Cipher(KEY, IV)
    data = bytes(range(256)) * 4
    text = manual_encrypt(data)
    assert "+" in text
    assert c.decrypt(text.replace("+", " "), "f") == data


def test_line_breaks_are_tolerated() -> None:
    c = Cipher(KEY, IV)
    text = manual_encrypt(b"z" * 300)
    wrapped = "\n".join(text[i : i + 76] for i in range(0, len(text), 76))
    assert c.decrypt(wrapped, "f") == b"z" * 300


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "is empty"),
        ("not base64 !!!", "not valid base64"),
        (manual_encrypt(b"hello world")[:-3], "not valid base64"),  # truncated mid-quantum
        (manual_encrypt(b"hello world" * 10)[:-8], "could not be decrypted"),  # cut on a quantum
        (manual_encrypt(b"hello", key="0" * 32), "could not be decrypted"),  # wrong key
        (manual_encrypt(b"hello", iv="000000000000"), "could not be decrypted"),  # wrong IV
        (base64.b64encode(b"short").decode(), "too short"),
    ],
)
def test_bad_input_is_1200_naming_the_field(text: str, fragment: str) -> None:
    with pytest.raises(FacegateError) as info:
        Cipher(KEY, IV).decrypt(text, "first_encrypted_image")
    assert info.value.code is Code.INVALID_ARGUMENT
    assert fragment in info.value.detail
    assert "first_encrypted_image" in info.value.detail


@given(st.binary(min_size=16, max_size=200))
def test_random_bytes_never_decrypt(raw: bytes) -> None:
    with pytest.raises(FacegateError):
        Cipher(KEY, IV).decrypt(base64.b64encode(raw).decode(), "f")


@given(st.binary(max_size=300), st.integers(min_value=0, max_value=10_000))
def test_any_single_bit_flip_is_rejected(data: bytes, where: int) -> None:
    c = Cipher(KEY, IV)
    raw = bytearray(base64.b64decode(c.encrypt(data)))
    raw[where % len(raw)] ^= 1 << (where % 8)
    with pytest.raises(FacegateError):
        c.decrypt(base64.b64encode(bytes(raw)).decode(), "f")


@pytest.mark.parametrize(("key", "iv"), [("short", IV), (KEY, "short"), (KEY + "x", IV)])
def test_wrong_key_or_iv_length_is_refused(key: str, iv: str) -> None:
    with pytest.raises(ValueError, match="must be"):
        Cipher(key, iv)


def test_decode_base64_accepts_urlencoded_spaces() -> None:
    assert decode_base64("a+b/", "f") == decode_base64("a b/", "f")
