"""Customer API keys: create (shown once), list, revoke, rotate with overlap."""
