"""Billing: pricing rules, the monthly billing run, its schedules and the invoice e-mail."""
