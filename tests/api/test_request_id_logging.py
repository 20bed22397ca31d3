"""Every log line of a request carries that request's id (and nothing outside a request does)."""

import json
import logging
import threading

import pytest
from chalice import Chalice

from chalicelib.core import observability
from chalicelib.core.observability import logger


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def log_lines():
    """The application logger's JSON lines, formatted exactly as in production."""
    handler = _Lines()
    handler.setFormatter(logger.registered_formatter)
    stdlib_logger = logging.getLogger(observability.SERVICE)
    stdlib_logger.addHandler(handler)
    yield handler.lines
    stdlib_logger.removeHandler(handler)


def test_the_lines_of_a_request_carry_its_echoed_id(client, log_lines):
    response = client.http.get("/health", headers={"X-Request-Id": "req-logs-000001"})
    assert response.headers["X-Request-Id"] == "req-logs-000001"
    assert log_lines, "the request logged nothing"
    assert {line.get("request_id") for line in log_lines} == {"req-logs-000001"}


def test_a_generated_id_is_the_one_logged(client, log_lines):
    response = client.http.get("/openapi.json")
    assert {line.get("request_id") for line in log_lines} == {response.headers["X-Request-Id"]}


def test_lines_after_the_request_carry_no_request_id(client, log_lines):
    client.http.get("/health", headers={"X-Request-Id": "req-logs-000002"})
    logger.info("outside any request")
    assert "request_id" not in log_lines[-1]


def test_concurrent_requests_never_log_each_others_id(log_lines):
    """Two requests in two threads (as on the local server), interleaved at a barrier."""
    app = Chalice(app_name="request-id-probe")
    observability.register(app)
    barrier = threading.Barrier(2, timeout=10)

    @app.route("/probe")
    def probe():
        logger.info("before")
        barrier.wait()  # both requests have now set up their logging context
        logger.info("after")
        return {}

    def call(request_id):
        event = {
            "resource": "/probe",
            "path": "/probe",
            "httpMethod": "GET",
            "headers": {"x-request-id": request_id},
            "multiValueHeaders": {},
            "queryStringParameters": None,
            "multiValueQueryStringParameters": None,
            "pathParameters": None,
            "stageVariables": None,
            "body": None,
            "isBase64Encoded": False,
            "requestContext": {
                "resourcePath": "/probe",
                "httpMethod": "GET",
                "path": "/probe",
                "requestId": request_id,
                "stage": "test",
            },
        }
        app(event, None)

    threads = [threading.Thread(target=call, args=(rid,)) for rid in ("req-thread-aaaa", "req-thread-bbbb")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for rid in ("req-thread-aaaa", "req-thread-bbbb"):
        mine = [line for line in log_lines if line.get("request_id") == rid]
        assert [line["message"] for line in mine] == ["before", "after", "request"]
    assert all(line.get("request_id") in {"req-thread-aaaa", "req-thread-bbbb"} for line in log_lines)


def test_an_authenticated_requests_lines_carry_its_tenant_and_later_lines_do_not(client, new_customer, log_lines):
    customer = new_customer()
    log_lines.clear()
    response = client.http.post(
        "/support-tickets",
        headers={**customer.headers, "X-Request-Id": "req-tenant-0001"},
        body=json.dumps({"subject": "logs", "body": "b"}),
    )
    assert response.status_code == 201
    messages = [line["message"] for line in log_lines]
    assert "support ticket opened" in messages and "request" in messages
    assert all(line.get("request_id") == "req-tenant-0001" for line in log_lines)
    assert all(line.get("tenant_id") == str(customer.customer_id) for line in log_lines)
    logger.info("outside any request")
    assert "tenant_id" not in log_lines[-1] and "request_id" not in log_lines[-1]
