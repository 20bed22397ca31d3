"""The OpenAPI generator handles any RouteSpec (other areas' routes appear as they are merged)."""

from typing import Literal

from openapi_spec_validator import validate
from pydantic import BaseModel

from chalicelib.core.http import RouteSpec
from chalicelib.core.models import PageQuery, RequestModel, ResponseModel
from chalicelib.openapi.generator import build_document


class Create(RequestModel):
    name: str
    kind: Literal["a", "b"] = "a"


class Thing(ResponseModel):
    id: str
    name: str


class Query(PageQuery):
    period: str | None = None


class Nested(BaseModel):
    child: Thing


def _doc(*specs):
    document = build_document(specs)
    validate(document)
    return document


def test_a_public_route_without_models():
    op = _doc(RouteSpec(path="/ping", method="GET", auth=None))["paths"]["/ping"]["get"]
    assert op["security"] == [] and set(op["responses"]) == {"200"}
    assert op["responses"]["200"]["content"]["application/json"]["schema"] == {"type": "object"}


def test_a_204_route_has_no_content():
    op = _doc(RouteSpec(path="/api-keys/{id}", method="DELETE", auth="customer", status=204))
    response = op["paths"]["/api-keys/{id}"]["delete"]["responses"]["204"]
    assert "content" not in response and "X-Request-Id" in response["headers"]


def test_path_parameters_named_id_are_uuids_and_others_are_strings():
    document = _doc(RouteSpec(path="/a/{id}/b/{invoice_id}/c/{name}", method="GET", auth="operator"))
    params = {p["name"]: p["schema"] for p in document["paths"]["/a/{id}/b/{invoice_id}/c/{name}"]["get"]["parameters"]}
    assert params == {
        "id": {"type": "string", "format": "uuid"},
        "invoice_id": {"type": "string", "format": "uuid"},
        "name": {"type": "string", "minLength": 1},
    }


def test_error_statuses_follow_auth_inputs_and_declared_errors():
    document = _doc(
        RouteSpec(
            path="/x", method="POST", auth="operator", body=Create, response=Thing, status=201, errors=(409, 422)
        ),
        RouteSpec(path="/x", method="GET", auth="any", query=Query),
    )
    post = document["paths"]["/x"]["post"]["responses"]
    assert set(post) == {"201", "400", "401", "403", "409", "415", "422"}  # operators are not rate limited
    get = document["paths"]["/x"]["get"]["responses"]
    assert set(get) == {"200", "400", "401", "403", "429"}
    assert set(document["components"]["responses"]) == {f"Error{s}" for s in (400, 401, 403, 409, 415, 422, 429)}


def test_nested_models_are_hoisted_into_components():
    document = _doc(RouteSpec(path="/n", method="GET", auth=None, response=Nested))
    schemas = document["components"]["schemas"]
    assert {"Nested", "Thing"} <= set(schemas)
    assert schemas["Nested"]["properties"]["child"] == {"$ref": "#/components/schemas/Thing"}


def test_query_models_become_parameters_without_null():
    document = _doc(RouteSpec(path="/q", method="GET", auth="customer", query=Query))
    params = {p["name"]: p for p in document["paths"]["/q"]["get"]["parameters"]}
    assert set(params) == {"limit", "cursor", "period"}
    assert all(p["in"] == "query" and p["required"] is False for p in params.values())
    assert params["period"]["schema"] == {"type": "string"}
    assert "Query" not in document["components"]["schemas"]


def test_same_named_models_of_two_areas_do_not_collide():
    def make():
        class Thing(ResponseModel):
            other: int

        return Thing

    document = _doc(
        RouteSpec(path="/one", method="GET", auth=None, response=Thing),
        RouteSpec(path="/two", method="GET", auth=None, response=make()),
    )
    one = document["paths"]["/one"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    two = document["paths"]["/two"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert one != two


class AllOptional(RequestModel):
    status: Literal["active", "suspended"] | None = None


def test_a_body_is_required_only_when_an_empty_one_is_invalid():
    """``route`` reads an absent body as ``{}``."""
    document = _doc(
        RouteSpec(path="/r", method="POST", auth="operator", body=Create),
        RouteSpec(path="/o", method="PATCH", auth="operator", body=AllOptional),
    )
    assert document["paths"]["/r"]["post"]["requestBody"]["required"] is True
    assert document["paths"]["/o"]["patch"]["requestBody"]["required"] is False
