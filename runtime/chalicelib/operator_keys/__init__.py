"""Operator API keys: create (shown once), list, revoke immediately; optional expiry."""
