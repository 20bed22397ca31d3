"""Authentication: API keys, the verification cache, JWT sessions and the per-request guard."""
