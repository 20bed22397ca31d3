"""auth.passwords: bcrypt over a fixed-size pre-hash, constant-time verification, never a 500."""

from __future__ import annotations

import pytest

from chalicelib.auth import passwords

COST = 4  # bcrypt's minimum: the rules are the same at any cost


def test_round_trip_and_a_wrong_password_is_refused():
    stored = passwords.hash_password("correct horse battery", COST)
    assert stored.startswith("$2b$04$")
    assert "correct horse" not in stored
    assert passwords.verify_password("correct horse battery", stored)
    assert not passwords.verify_password("correct horse batterY", stored)
    assert not passwords.verify_password("", stored)


def test_the_cost_is_the_callers():
    assert passwords.hash_password("a" * passwords.MIN_LENGTH, 5).startswith("$2b$05$")


def test_each_hash_has_its_own_salt():
    assert passwords.hash_password("same password twice", COST) != passwords.hash_password("same password twice", COST)


@pytest.mark.parametrize(
    "password",
    [
        "x" * passwords.MAX_LENGTH,  # 128 characters: past bcrypt's 72 bytes
        "€" * passwords.MAX_LENGTH,  # 384 bytes of UTF-8
        "пароль-密码-🔑🔑🔑-كلمة",  # several scripts, 4-byte code points
        "\ud800 lone surrogate",  # a JSON body can carry one; it must hash, not raise
        "nul\x00inside the password",
    ],
)
def test_long_and_multibyte_passwords_round_trip(password):
    stored = passwords.hash_password(password, COST)
    assert passwords.verify_password(password, stored)
    assert not passwords.verify_password(password[:-1], stored)


def test_passwords_sharing_their_first_72_bytes_are_distinguished():
    common = "p" * 72
    first, second = common + "-first-suffix", common + "-other-suffix"
    stored = passwords.hash_password(first, COST)
    assert passwords.verify_password(first, stored)
    assert not passwords.verify_password(second, stored)
    assert not passwords.verify_password(common, stored)


def test_multibyte_passwords_sharing_their_first_72_bytes_are_distinguished():
    common = "é" * 36  # 72 bytes of UTF-8, 36 characters
    stored = passwords.hash_password(common + "a" * 20, COST)
    assert not passwords.verify_password(common + "b" * 20, stored)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "not a hash",
        "$2b$04$tooshort",
        "$2b$04$" + "!" * 53,
        "$9z$04$" + "a" * 53,
        "$2b$04$" + "é" * 53,
        "\ud800",
    ],
)
def test_a_malformed_stored_hash_is_a_failed_verification(stored):
    assert passwords.verify_password("whatever password", stored) is False


def test_an_api_key_style_hash_of_the_raw_password_does_not_verify():
    """The pre-hash is part of the scheme: a bare bcrypt of the password is not a stored password."""
    import bcrypt

    raw = bcrypt.hashpw(b"correct horse battery", bcrypt.gensalt(rounds=COST)).decode()
    assert not passwords.verify_password("correct horse battery", raw)


def test_burn_equivalent_time_runs_at_the_given_cost_and_keeps_one_dummy_per_cost():
    passwords.burn_equivalent_time(COST)
    passwords.burn_equivalent_time(COST)
    dummy = passwords._dummy_hash(COST)
    assert dummy.startswith("$2b$04$")
    assert passwords._dummy_hash(COST) is dummy
    assert passwords._dummy_hash(5).startswith("$2b$05$")


def test_length_limits_are_the_contracts():
    assert (passwords.MIN_LENGTH, passwords.MAX_LENGTH) == (12, 128)
