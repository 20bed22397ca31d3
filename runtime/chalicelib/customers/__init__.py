"""Customers: the caller's own profile and the operator's onboarding and administration."""
