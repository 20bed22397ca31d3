"""The permission table and the registered routes agree: no tenant route without a rule, no rule without a route."""

from __future__ import annotations

from chalicelib.auth.permissions import ROUTES

TENANT_AUTH = ("customer", "any")


def _registered(chalice_app):
    """Every route of the app (``chalice_app`` imports it, which registers them): (method, path) → auth.

    Preflight ``OPTIONS`` (core.cors) are left out explicitly: they run no guard and need no rule
    (tests/api/test_cors.py checks every path has one).
    """
    from chalicelib.core.http import REGISTRY

    return {(spec.method, spec.path): spec.auth for spec in REGISTRY if spec.method != "OPTIONS"}


def test_the_role_table_sees_every_served_operation(chalice_app):
    """What Chalice serves, preflights aside, is exactly what the registry (and so the role table) knows."""
    served = {
        (method, path) for path, methods in chalice_app.routes.items() for method in methods if method != "OPTIONS"
    }
    assert served == set(_registered(chalice_app))


def test_every_tenant_route_has_a_permission(chalice_app):
    registered = _registered(chalice_app)
    tenant_routes = {key for key, auth in registered.items() if auth in TENANT_AUTH}
    assert tenant_routes, "no tenant route registered: the app was not imported"
    missing = sorted(tenant_routes - set(ROUTES))
    assert not missing, f"tenant routes without an entry in auth.permissions.ROUTES: {missing}"


def test_every_permission_names_a_registered_tenant_route(chalice_app):
    registered = _registered(chalice_app)
    unknown = sorted(key for key in ROUTES if key not in registered)
    assert not unknown, f"auth.permissions.ROUTES names routes that are not registered: {unknown}"
    not_tenant = sorted(key for key in ROUTES if registered[key] not in TENANT_AUTH)
    assert not not_tenant, f"auth.permissions.ROUTES names operator or public routes: {not_tenant}"
