"""E-mail notifications: queued in the database, delivered through SES exactly once."""
