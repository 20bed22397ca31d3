"""People's authentication (issue 13), in-process, as functions the harness (``python -m bench``) calls.

:func:`measure_people` returns four figures, all through ``chalice.test.Client``
or the guard itself, like ``bench.auth_bench``:

* ``login_p50_ms`` — ``POST /auth/login`` for a person without MFA, median.
  bcrypt runs at the production cost, :data:`LOGIN_BCRYPT_COST`, in the quick
  mode too: a login pays the cost written in the stored hash, not the stack's
  ``BCRYPT_COST`` (4 in the quick mode, for API keys), so the person's hash is
  made at 12 and the cost is read back from it and reported. Every login
  succeeds, so the failed-login throttle only reads its two counters (as in
  production) and never counts or refuses.
* ``mfa_verify_p99_ms`` — ``POST /auth/mfa`` (``login.verify_mfa``) with a TOTP
  code: claim the ``mfa_token``, KMS ``Decrypt`` of the sealed secret against
  the local endpoint (moto's server over loopback), spend the step, open the
  session. The login that yields each ``mfa_token`` is not timed.
* ``authorize_p99_ms`` and ``authorize_p99_ms_user`` — ``authorize()`` with an
  API key's session and with a person's, sampled alternately in one loop so
  machine drift falls on both alike; the user figure's target is the key
  figure plus 10% (the issue: "unchanged for user sessions").

A TOTP code is accepted once per 30-second step per person, so each MFA
sample needs a (person, step) pair not used before. Authentication's clock
(``auth.clock``, as the tests move it) is stepped 30 s per round over
:data:`ROUNDS` rounds, each round using every person once. It stays in the
past (PyJWT refuses a token issued in the future) but within 270 s of now:
an ``mfa_token`` lives 300 s and PostgreSQL checks that with its own clock.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
import types
import uuid
from collections.abc import Iterator
from typing import Any
from unittest import mock

import psycopg
import pyotp

from bench import billing_bench
from bench.harness import Figure, fresh_stack, summarize

JSON = {"Content-Type": "application/json"}
PASSWORD = "bench person password 1"
LOGIN_BCRYPT_COST = 12  # the production cost (Settings' default; the local stack's default too)
MFA_BCRYPT_COST = 4  # the MFA people's login is not timed: the cheapest cost bcrypt allows
MFA_TARGET = "<= 50"
AUTHORIZE_TARGET = "<= 2"
USER_VS_KEY = 1.10  # a person's session may cost at most 10% more to authorize than a key's
STEP = 30
ROUNDS = 8  # TOTP steps per person: 8 steps from 240 s ago stay in the past (see _next_step)


def _figure(name: str, samples: list[float], stat: str, target: str, params: dict[str, Any]) -> Figure:
    stats = summarize(samples)
    return Figure(name, stats[f"{stat}_ms"], "ms", target, {"samples": len(samples)}, params=params, detail=stats)


def _post(client: Any, path: str, body: dict[str, Any], token: str | None = None, expect: int = 200) -> dict:
    headers = {**JSON, "Authorization": f"Bearer {token}"} if token else JSON
    response = client.http.post(path, headers=headers, body=json.dumps(body))
    if response.status_code != expect:
        raise RuntimeError(f"POST {path} answered {response.status_code}: {response.body[:300]!r}")
    return json.loads(response.body)


def insert_people(admin_url: str, customer_id: uuid.UUID, count: int, cost: int) -> list[str]:
    """``count`` people of the customer, straight in PostgreSQL (as the tests do); their e-mails."""
    from chalicelib.auth import passwords

    password_hash = passwords.hash_password(PASSWORD, cost)  # one hash: the same password for all
    tag = uuid.uuid4().hex[:8]
    emails = [f"bench-person-{tag}-{i}@example.test" for i in range(count)]
    with psycopg.connect(admin_url, autocommit=True) as conn, conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO users (customer_id, email, name, role, password_hash) VALUES (%s, %s, 'Bench', 'admin', %s)",
            [(customer_id, email, password_hash) for email in emails],
        )
    return emails


def stored_cost(admin_url: str, email: str) -> int:
    """The bcrypt cost in the person's stored hash (``$2b$<cost>$...``): what a login of theirs pays."""
    with psycopg.connect(admin_url) as conn:
        row = conn.execute("SELECT password_hash FROM users WHERE email = %s", (email,)).fetchone()
    if row is None:
        raise RuntimeError(f"no user {email}")
    return int(str(row[0]).split("$")[2])


def measure_login(client: Any, email: str, n: int, warmup: int = 1) -> tuple[list[float], str]:
    """``n`` timed logins of a person without MFA; the samples and the last session's token."""
    token = ""
    samples = []
    for i in range(warmup + n):
        start = time.perf_counter()
        answer = _post(client, "/auth/login", {"email": email, "password": PASSWORD})
        elapsed = (time.perf_counter() - start) * 1000
        if "token" not in answer:
            raise RuntimeError(f"a person without MFA got {sorted(answer)}")
        token = answer["token"]
        if i >= warmup:
            samples.append(elapsed)
    return samples, token


def measure_authorize_interleaved(n: int, tokens: dict[str, str], warmup: int = 20) -> dict[str, list[float]]:
    """``authorize()`` of each token in turn, ``n`` samples each, the order flipped every round."""
    from chalicelib.auth import authorization

    headers = [(name, f"Bearer {token}") for name, token in tokens.items()]
    samples: dict[str, list[float]] = {name: [] for name, _ in headers}
    for i in range(warmup + n):
        for name, header in headers if i % 2 == 0 else headers[::-1]:
            start = time.perf_counter()
            authorization.authorize(header)
            if i >= warmup:
                samples[name].append((time.perf_counter() - start) * 1000)
    return samples


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


@contextlib.contextmanager
def _auth_clock(start: float) -> Iterator[_Clock]:
    """Authentication's clock (``auth.clock``) stopped at ``start`` until moved, as the tests do it."""
    from chalicelib.auth import clock

    fake = _Clock(start)
    with mock.patch.object(clock, "time", types.SimpleNamespace(time=fake.time)):
        yield fake


def _step_start(at: float) -> float:
    return float(int(at) // STEP * STEP)


def _next_step(previous: float) -> float:
    """A step start after ``previous``, at most 270 s old (the ``mfa_token``'s life) and in the past."""
    at = max(previous + STEP, _step_start(time.time()) - 240)
    while at > time.time() - 1:  # rounds faster than 30 s of real time: wait for the step to be past
        time.sleep(at - time.time() + 1)
    return at


def _enrol(client: Any, email: str, at: float) -> str:
    """Log in (no MFA yet), enrol through ``/users/me/mfa`` and confirm with the code for ``at``; the secret."""
    token = _post(client, "/auth/login", {"email": email, "password": PASSWORD})["token"]
    secret = _post(client, "/users/me/mfa", {}, token, expect=201)["secret"]
    _post(client, "/users/me/mfa/confirm", {"code": pyotp.TOTP(secret).at(at)}, token)
    return secret


def measure_mfa_verify(
    client: Any, admin_url: str, customer_id: uuid.UUID, n: int, warmup: int = 10
) -> tuple[list[float], dict[str, Any]]:
    """``n`` timed ``POST /auth/mfa`` with fresh TOTP codes; the samples and how they were drawn."""
    slots = warmup + n
    count = math.ceil(slots / ROUNDS)
    emails = insert_people(admin_url, customer_id, count, MFA_BCRYPT_COST)
    samples: list[float] = []
    with _auth_clock(_step_start(time.time()) - 270) as fake:
        secrets = [pyotp.TOTP(_enrol(client, email, fake.now)) for email in emails]
        done = rounds = 0
        while done < slots:
            fake.now = _next_step(fake.now)
            rounds += 1
            for email, totp in zip(emails, secrets, strict=True):
                if done == slots:
                    break
                challenge = _post(client, "/auth/login", {"email": email, "password": PASSWORD})
                body = {"mfa_token": challenge["mfa_token"], "code": totp.at(fake.now)}
                start = time.perf_counter()
                _post(client, "/auth/mfa", body)
                if done >= warmup:
                    samples.append((time.perf_counter() - start) * 1000)
                done += 1
    return samples, {"people": count, "totp_steps_per_person": rounds, "warmup": warmup}


def measure_people(
    client: Any, admin_url: str, operator: dict[str, str], key_token: str, sizes: dict[str, Any]
) -> list[Figure]:
    """The four figures of issue 13 (module docstring), for a new enterprise customer's people."""
    from chalicelib.core.settings import get_settings

    customer_id, _ = billing_bench.onboard_customer(client, operator)
    [email] = insert_people(admin_url, customer_id, 1, LOGIN_BCRYPT_COST)
    cost = stored_cost(admin_url, email)
    if cost != LOGIN_BCRYPT_COST:
        raise RuntimeError(f"the person's hash has cost {cost}, not {LOGIN_BCRYPT_COST}")
    login_samples, user_token = measure_login(client, email, sizes["login_samples"])
    figures = [
        _figure(
            "login_p50_ms",
            login_samples,
            "p50",
            "-",
            {
                "path": "POST /auth/login",
                "mfa": False,
                "bcrypt_cost": cost,
                "stack_bcrypt_cost": get_settings().bcrypt_cost,
                "in_process": True,
            },
        )
    ]

    n = sizes["samples"]
    both = measure_authorize_interleaved(n, {"key": key_token, "user": user_token})
    key = _figure(
        "authorize_p99_ms",
        both["key"],
        "p99",
        AUTHORIZE_TARGET,
        {
            "what": "bearer token: JWT check + one PostgreSQL liveness call",
            "session": "API key (admin)",
            "interleaved_with": "authorize_p99_ms_user",
            "in_process": True,
        },
    )
    user = _figure(
        "authorize_p99_ms_user",
        both["user"],
        "p99",
        f"<= {round(key.value * USER_VS_KEY, 3)}",
        {
            "what": "bearer token: JWT check + one PostgreSQL liveness call",
            "session": "person (admin, password login)",
            "target": f"authorize_p99_ms x {USER_VS_KEY}",
            "ratio_to_key": round(summarize(both["user"])["p99_ms"] / key.value, 3),
            "p50_ratio_to_key": round(summarize(both["user"])["p50_ms"] / key.detail["p50_ms"], 3),
            "interleaved_with": "authorize_p99_ms",
            "in_process": True,
        },
    )
    figures += [key, user]

    mfa_samples, drawn = measure_mfa_verify(client, admin_url, customer_id, sizes["mfa_samples"])
    figures.append(
        _figure(
            "mfa_verify_p99_ms",
            mfa_samples,
            "p99",
            MFA_TARGET,
            {
                "path": "POST /auth/mfa",
                "factor": "totp",
                "kms": "Decrypt of the sealed secret against the local endpoint (moto server, loopback)",
                **drawn,
                "in_process": True,
            },
        )
    )
    return figures


def run_alone(sizes: dict[str, Any]) -> list[Figure]:
    """``python -m bench --only people``: this module's figures on a fresh stack of their own."""

    with fresh_stack("people", sizes) as env:
        from app import app
        from chalice.test import Client

        with Client(app) as client:
            operator = billing_bench.operator_headers(client)
            _, key_headers = billing_bench.onboard_customer(client, operator)
            key_token = key_headers["Authorization"].removeprefix("Bearer ")
            with psycopg.connect(env["ADMIN_DATABASE_URL"], autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")  # as the full run does: no autovacuum amid the samples
            return measure_people(client, env["ADMIN_DATABASE_URL"], operator, key_token, sizes)
