"""Authentication's clock: the one "now" that authentication, refresh, logout and the guard read.

One seam, so a test moves time for every authentication rule at once (a
key's expiry, a throttle window) without touching the clock of anything
else (token signatures, the AWS SDK).
"""

from __future__ import annotations

import time


def now() -> float:
    """Seconds since the epoch."""
    return time.time()
