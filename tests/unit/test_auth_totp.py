"""auth.totp: RFC 6238 codes checked against pyotp's own TOTP at fixed instants; recovery codes."""

from __future__ import annotations

import base64
import math
import re
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest

from chalicelib.auth import totp

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # 160 bits
NOW = 1_900_000_015.0  # a fixed instant, mid-step
STEP = int(NOW // 30)
REFERENCE = pyotp.TOTP(SECRET)  # 30 s, 6 digits, SHA-1: the apps' defaults


def test_new_secrets_are_160_random_bits_of_base32():
    first, second = totp.new_secret(), totp.new_secret()
    assert first != second
    assert re.fullmatch(r"[A-Z2-7]{32}", first)
    assert len(base64.b32decode(first)) == 20


def test_provisioning_uri_is_an_otpauth_uri_apps_read():
    uri = totp.provisioning_uri(SECRET, email="ana@example.com", issuer="SaaS Platform")
    parsed = urlparse(uri)
    assert (parsed.scheme, parsed.netloc) == ("otpauth", "totp")
    query = parse_qs(parsed.query)
    assert query["secret"] == [SECRET] and query["issuer"] == ["SaaS Platform"]
    assert "ana%40example.com" in parsed.path or "ana@example.com" in parsed.path
    assert pyotp.parse_uri(uri).at(NOW) == REFERENCE.at(NOW)


@pytest.mark.parametrize("offset", [-30, 0, 30])
def test_codes_of_the_current_step_and_one_either_side_are_accepted_with_their_step(offset):
    code = REFERENCE.at(NOW + offset)
    assert totp.matching_step(SECRET, code, NOW) == STEP + offset // 30


@pytest.mark.parametrize("offset", [-90, -60, 60, 90])
def test_codes_two_steps_away_are_refused(offset):
    code = REFERENCE.at(NOW + offset)
    assert code not in {REFERENCE.at(NOW + d) for d in (-30, 0, 30)}, "the fixture's codes must differ"
    assert totp.matching_step(SECRET, code, NOW) is None


def test_the_step_follows_now_across_a_step_boundary():
    boundary = math.ceil(NOW / 30) * 30
    code = REFERENCE.at(boundary)
    assert totp.matching_step(SECRET, code, boundary - 0.001) == int(boundary // 30)
    assert totp.matching_step(SECRET, code, boundary) == int(boundary // 30)


def test_a_code_typed_with_spaces_is_accepted():
    code = REFERENCE.at(NOW)
    assert totp.matching_step(SECRET, f" {code[:3]} {code[3:]} ", NOW) == STEP


def test_the_latest_matching_step_is_returned_so_a_replay_cannot_reuse_an_earlier_one(monkeypatch):
    monkeypatch.setattr(pyotp.TOTP, "generate_otp", lambda self, step: "123456")
    assert totp.matching_step(SECRET, "123456", NOW) == STEP + 1


@pytest.mark.parametrize(
    "code",
    ["", "12345", "1234567", "abcdef", "12 34 5", "١٢٣٤٥٦", "123456\n7", "-12345", "+12345", "12345.", None, 123456],
)
def test_garbage_is_refused(code):
    assert totp.matching_step(SECRET, code, NOW) is None


def test_a_wrong_six_digit_code_is_refused():
    window = {REFERENCE.at(NOW + d) for d in (-30, 0, 30)}
    wrong = next(c for c in (f"{n:06d}" for n in range(1_000_000)) if c not in window)
    assert totp.matching_step(SECRET, wrong, NOW) is None


def test_recovery_codes_are_ten_distinct_well_formed_codes_of_79_bits():
    codes = totp.new_recovery_codes()
    assert len(codes) == totp.RECOVERY_CODE_COUNT == 10
    assert len(set(codes)) == 10
    for code in codes:
        assert re.fullmatch(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}", code), code
        assert not set(code) & set("01ilo")
        assert totp.looks_like_recovery_code(code)
        assert totp.normalize_recovery_code(code) == code
    assert 16 * math.log2(len(totp.RECOVERY_ALPHABET)) >= 50
    assert totp.new_recovery_codes() != codes


@pytest.mark.parametrize(
    "typed", [" ABCD-EFGH-JKMN-PQRS ", "abcdefghjkmnpqrs", "abcd efgh jkmn pqrs", "ABCD-efgh jkmnPQRS"]
)
def test_typed_recovery_codes_normalize_to_the_hyphen_form_and_hash_alike(typed):
    assert totp.normalize_recovery_code(typed) == "abcd-efgh-jkmn-pqrs"
    assert totp.looks_like_recovery_code(typed)
    assert totp.hash_recovery_code(typed) == totp.hash_recovery_code("abcd-efgh-jkmn-pqrs")


def test_the_recovery_hash_is_sha256_hex_of_the_normalized_code_and_tells_codes_apart():
    import hashlib

    assert totp.hash_recovery_code("abcd-efgh-jkmn-pqrs") == hashlib.sha256(b"abcd-efgh-jkmn-pqrs").hexdigest()
    assert totp.hash_recovery_code("abcd-efgh-jkmn-pqrs") != totp.hash_recovery_code("abcd-efgh-jkmn-pqrt")


@pytest.mark.parametrize(
    "code", ["123456", "abcd-efgh-jkmn-pqr", "abcd-efgh-jkmn-pqrs-t", "abcd-efgh-jkmn-pqr0", "abcd_efgh_jkmn_pqrs", ""]
)
def test_what_is_not_a_recovery_code_is_not_taken_for_one(code):
    assert not totp.looks_like_recovery_code(code)
    totp.hash_recovery_code(code)  # hashing anything is safe: it just matches nothing
