"""This process's copy of verifications: expiry, key validity, bound, targeted drops."""

from __future__ import annotations

import types
import uuid

import pytest

from chalicelib.auth import clock, verification_cache
from chalicelib.auth.verification_cache import VerifiedKey
from chalicelib.core.cache import LocalCache
from chalicelib.core.context import Role


@pytest.fixture
def at(monkeypatch):
    """Authentication's clock, set by the test (epoch seconds), and an empty copy on it."""
    now = {"t": 0.0}
    monkeypatch.setattr(clock, "time", types.SimpleNamespace(time=lambda: now["t"]))
    monkeypatch.setattr(
        verification_cache, "_local", LocalCache(max_entries=verification_cache.LOCAL_ENTRIES, clock=clock.now)
    )
    return now


def _entry(valid_until: int | None = None, key_id: uuid.UUID | None = None) -> VerifiedKey:
    return VerifiedKey(
        key_id=key_id or uuid.uuid4(),
        role=Role.CUSTOMER,
        subject=uuid.uuid4(),
        public_id="abc",
        valid_until=valid_until,
    )


def _copy(digest: str) -> VerifiedKey | None:
    return verification_cache._local.get(digest)


def test_an_entry_expires_with_its_dynamodb_twin(at):
    verification_cache._keep_locally("d", _entry(), expires_at=100)
    at["t"] = 99
    assert _copy("d") is not None
    at["t"] = 100
    assert _copy("d") is None
    at["t"] = 50
    assert _copy("d") is None  # dropped once expired


def test_an_entry_ends_when_its_key_does(at):
    verification_cache._keep_locally("d", _entry(valid_until=60), expires_at=100)
    at["t"] = 59
    assert _copy("d") is not None
    at["t"] = 60
    assert _copy("d") is None


def test_the_least_recently_used_entry_goes_first_at_the_bound(at, monkeypatch):
    monkeypatch.setattr(verification_cache, "_local", LocalCache(max_entries=2, clock=clock.now))
    at["t"] = 1
    verification_cache._keep_locally("a", _entry(), 100)
    verification_cache._keep_locally("b", _entry(), 100)
    _copy("a")
    verification_cache._keep_locally("c", _entry(), 100)
    assert _copy("b") is None
    assert _copy("a") is not None and _copy("c") is not None


def test_dropping_keys_removes_only_their_entries(at):
    at["t"] = 1
    doomed, kept = uuid.uuid4(), uuid.uuid4()
    verification_cache._keep_locally("x", _entry(key_id=doomed), 100)
    verification_cache._keep_locally("y", _entry(key_id=doomed), 100)
    verification_cache._keep_locally("z", _entry(key_id=kept), 100)
    verification_cache._forget_locally([doomed])
    assert [_copy(d) is not None for d in "xyz"] == [False, False, True]
