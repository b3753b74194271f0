from __future__ import annotations

import pytest
from pydantic import ValidationError

from facegate.settings import MANUAL_DEFAULT_IV, MANUAL_DEFAULT_KEY, Settings


def test_defaults_are_the_manuals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARAM_DECRYPT_KEY", raising=False)
    monkeypatch.delenv("PARAM_DECRYPT_IV", raising=False)
    s = Settings()
    assert (s.decrypt_key, s.decrypt_iv) == (MANUAL_DEFAULT_KEY, MANUAL_DEFAULT_IV)
    assert s.port == 3000
    assert s.image_limits.max_bytes == 5 * 1024 * 1024


def test_key_and_iv_come_from_the_manuals_variable_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARAM_DECRYPT_KEY", "k" * 32)
    monkeypatch.setenv("PARAM_DECRYPT_IV", "i" * 12)
    s = Settings()
    assert (s.decrypt_key, s.decrypt_iv) == ("k" * 32, "i" * 12)


@pytest.mark.parametrize(
    ("var", "value", "message"),
    [
        ("PARAM_DECRYPT_KEY", "k" * 31, "PARAM_DECRYPT_KEY must be exactly 32 characters"),
        ("PARAM_DECRYPT_IV", "i" * 16, "PARAM_DECRYPT_IV must be exactly 12 characters"),
    ],
)
def test_wrong_length_stops_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str, message: str
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ValidationError, match=message):
        Settings()


def test_production_refuses_the_published_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEGATE_ENVIRONMENT", "production")
    monkeypatch.delenv("PARAM_DECRYPT_KEY", raising=False)
    with pytest.raises(ValidationError, match="published default"):
        Settings()
    monkeypatch.setenv("PARAM_DECRYPT_KEY", "k" * 32)
    assert Settings().environment == "production"
