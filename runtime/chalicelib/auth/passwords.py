"""User passwords: length rules, bcrypt hashing and constant-time verification (pure: no I/O).

bcrypt reads at most 72 bytes of input (bcrypt 5 raises past that; older
versions silently truncated, so two passwords sharing their first 72 bytes
were the same password). A 128-character password can be 512 bytes of UTF-8,
so the password is first reduced to a fixed 44 bytes: base64 of its
HMAC-SHA256. Base64, not the raw digest, because a raw digest may contain NUL
bytes, where C bcrypt implementations stop reading. HMAC with a fixed,
project-specific key rather than a bare SHA-256 separates the domain: a leaked
table of someone else's unsalted SHA-256 password hashes cannot be tried
against our bcrypt hashes without cracking them first ("password shucking").

The cost is the caller's (``Settings.bcrypt_cost``, as for API keys), and
because of the pre-hash one verification costs the same whatever the length,
so a long password is no denial-of-service lever.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac

import bcrypt

MIN_LENGTH = 12  # characters (code points), as a person counts them
MAX_LENGTH = 128

# Domain separation for the pre-hash (see the module docstring); changing it invalidates every stored hash.
_PREHASH_KEY = b"saas-platform/user-password/v1"


def _prehash(password: str) -> bytes:
    # surrogatepass: a JSON body may carry a lone surrogate ("\ud800"); it must hash, not raise.
    digest = hmac.new(_PREHASH_KEY, password.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
    return base64.b64encode(digest)


def hash_password(password: str, cost: int) -> str:
    """The bcrypt hash (``$2b$<cost>$...``) to store; a new random salt each time."""
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds=cost)).decode()


def verify_password(password: str, stored_hash: str) -> bool:
    """Whether ``password`` matches; ``bcrypt.checkpw`` compares in constant time.

    A malformed stored hash is a failed verification, never an exception (and never a 500).
    """
    try:
        return bcrypt.checkpw(_prehash(password), stored_hash.encode("utf-8", "surrogatepass"))
    except ValueError:
        return False


def burn_equivalent_time(cost: int) -> None:
    """Do the work of one verification at ``cost`` against a dummy hash.

    For a login with an unknown e-mail: it then costs what a wrong password
    costs, so the answer's timing does not tell which addresses have accounts.
    """
    bcrypt.checkpw(_prehash("no such user"), _dummy_hash(cost).encode())


@functools.cache
def _dummy_hash(cost: int) -> str:
    """Computed once per cost and kept (a second bcrypt run per unknown e-mail would double its cost)."""
    return hash_password("no such user, no such password", cost)
