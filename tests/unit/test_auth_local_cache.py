"""This process's copy of verifications: expiry, key validity, bound, targeted drops."""

from __future__ import annotations

import uuid

from chalicelib.auth.store import CachedVerification, _LocalVerifications


def _entry(valid_until: int | None = None, key_id: uuid.UUID | None = None) -> CachedVerification:
    return CachedVerification(
        key_id=key_id or uuid.uuid4(), role="customer", subject=uuid.uuid4(), public_id="abc", valid_until=valid_until
    )


def test_an_entry_expires_with_its_dynamodb_twin():
    cache = _LocalVerifications()
    cache.put("d", _entry(), expires_at=100)
    assert cache.get("d", 99) is not None
    assert cache.get("d", 100) is None
    assert cache.get("d", 50) is None  # dropped once expired


def test_an_entry_ends_when_its_key_does():
    cache = _LocalVerifications()
    cache.put("d", _entry(valid_until=60), expires_at=100)
    assert cache.get("d", 59) is not None
    assert cache.get("d", 60) is None


def test_the_least_recently_used_entry_goes_first_at_the_bound():
    cache = _LocalVerifications()
    cache.MAX_ENTRIES = 2
    cache.put("a", _entry(), 100)
    cache.put("b", _entry(), 100)
    cache.get("a", 1)
    cache.put("c", _entry(), 100)
    assert cache.get("b", 1) is None
    assert cache.get("a", 1) is not None and cache.get("c", 1) is not None


def test_dropping_keys_removes_only_their_entries():
    cache = _LocalVerifications()
    doomed, kept = uuid.uuid4(), uuid.uuid4()
    cache.put("x", _entry(key_id=doomed), 100)
    cache.put("y", _entry(key_id=doomed), 100)
    cache.put("z", _entry(key_id=kept), 100)
    cache.drop_keys({doomed})
    assert [cache.get(d, 1) is not None for d in "xyz"] == [False, False, True]
