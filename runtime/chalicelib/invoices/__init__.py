"""Invoices as customers read them."""
