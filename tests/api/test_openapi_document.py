"""GET /openapi.json: public, valid OpenAPI 3.1, and exactly the routes Chalice serves."""

import json

from openapi_spec_validator import validate

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _document(client):
    response = client.http.get("/openapi.json")
    assert response.status_code == 200
    return json.loads(response.body)


def test_the_document_is_public_and_valid_openapi(client):
    document = _document(client)
    validate(document)
    assert document["openapi"].startswith("3.1")


def test_every_served_route_is_documented_and_nothing_else(client, chalice_app):
    document = _document(client)
    # Preflight OPTIONS (core.cors, on every path: tests/api/test_cors.py) are CORS plumbing, not operations.
    served = {
        (path, method.lower())
        for path, methods in chalice_app.routes.items()
        for method in methods
        if method != "OPTIONS"
    }
    documented = {
        (path, method) for path, item in document["paths"].items() for method in item if method in HTTP_METHODS
    }
    assert served - documented == set(), "routes served by Chalice but missing from /openapi.json"
    assert documented - served == set(), "routes in /openapi.json that Chalice does not serve"


def test_operation_ids_are_unique(client):
    document = _document(client)
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_authenticated_routes_name_the_bearer_scheme_and_public_ones_none(client):
    document = _document(client)
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert document["paths"]["/health"]["get"]["security"] == []
    assert document["paths"]["/openapi.json"]["get"]["security"] == []
    assert document["paths"]["/support-tickets"]["post"]["security"] == [{"bearerAuth": []}]
    assert "401" in document["paths"]["/support-tickets"]["post"]["responses"]


def test_request_bodies_query_and_path_parameters_come_from_the_models(client):
    document = _document(client)
    create = document["paths"]["/support-tickets"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TicketCreate"
    }
    ticket_create = document["components"]["schemas"]["TicketCreate"]
    assert ticket_create["additionalProperties"] is False
    assert set(ticket_create["required"]) == {"subject", "body"}
    assert ticket_create["properties"]["priority"]["enum"] == ["low", "normal", "high", "urgent"]
    listing = {p["name"]: p for p in document["paths"]["/support-tickets"]["get"]["parameters"]}
    assert listing["limit"]["in"] == "query"
    assert listing["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 100}
    assert listing["cursor"]["schema"]["type"] == "string"  # null branch dropped: a query string has no null
    detail = document["paths"]["/support-tickets/{id}"]["get"]
    assert detail["parameters"] == [
        {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
    ]
    assert "404" in detail["responses"]


def test_errors_have_chalice_shape_and_429_names_retry_after(client):
    document = _document(client)
    components = document["components"]
    assert components["schemas"]["ChaliceError"]["required"] == ["Code", "Message"]
    too_many = components["responses"]["Error429"]
    assert too_many["headers"]["Retry-After"]["$ref"] == "#/components/headers/RetryAfter"
    assert too_many["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ChaliceError"}
    assert document["paths"]["/support-tickets"]["get"]["responses"]["429"] == {
        "$ref": "#/components/responses/Error429"
    }
    assert "429" not in document["paths"]["/health"]["get"]["responses"]


def test_every_response_declares_x_request_id(client):
    document = _document(client)
    for item in document["paths"].values():
        for operation in item.values():
            for declared in operation["responses"].values():
                response = (
                    document["components"]["responses"][declared["$ref"].rsplit("/", 1)[-1]]
                    if "$ref" in declared
                    else declared
                )
                assert "X-Request-Id" in response["headers"]
