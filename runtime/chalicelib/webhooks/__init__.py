"""Outbound webhooks: tenant endpoints, events emitted in their cause's transaction, signed deliveries at least once."""
