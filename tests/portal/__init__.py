"""Browser tests: the customer portal in Chromium against the local stack as ``make run`` starts it."""
