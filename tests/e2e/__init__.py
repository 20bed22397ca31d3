"""End-to-end tests: the local stack as ``make run`` starts it, driven over HTTP from outside."""
