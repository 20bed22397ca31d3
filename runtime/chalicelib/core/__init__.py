"""Shared plumbing: settings, database access and tenant context, errors, AWS clients, observability."""
