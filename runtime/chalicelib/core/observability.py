"""Powertools Logger/Tracer/Metrics and the request-id middleware.

Logs are JSON and carry ``request_id`` and, once authenticated, ``tenant_id``.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from chalicelib.core import context

if TYPE_CHECKING:  # annotations only: the view layer, not this module, works with chalice
    from chalice import Chalice
    from chalice.app import Request, Response

SERVICE = "saas-api"
logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace="SaaSPlatform", service=SERVICE)

_REQUEST_KEYS = ("request_id", "path", "method", "tenant_id", "role")  # the auth guard adds the last two
# Metrics is one buffer per process; the local server is threaded, so a
# request's add-and-flush must not interleave with another's.
_metrics_lock = threading.Lock()

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def resolve_request_id(headers: Mapping[str, str] | None) -> str:
    """Echo a well-formed incoming ``X-Request-Id``, else generate one."""
    incoming = headers.get("x-request-id") if headers is not None else None
    if incoming and _VALID_REQUEST_ID.match(incoming):
        return incoming
    return str(uuid.uuid4())


def register(app: Chalice) -> None:
    """Attach the request-id middleware (outermost, so every response carries the header)."""

    @app.middleware("http")
    def request_id_middleware(event: Request, get_response: Callable[[Request], Response]) -> Response:
        started = time.perf_counter()
        request_id = resolve_request_id(event.headers)
        token = context.set_request_id(request_id)
        logger.remove_keys(["tenant_id", "role"])
        # Context-local, not global, keys: the local server answers requests in
        # concurrent threads, and one request's lines must not carry another's
        # id; removed afterwards so nothing outside a request inherits them.
        logger.thread_safe_append_keys(request_id=request_id, path=event.path, method=event.method)
        try:
            with _request_subsegment(request_id):
                response = get_response(event)
            response.headers["X-Request-Id"] = request_id
            elapsed_ms = (time.perf_counter() - started) * 1000
            logger.info("request", extra={"status": response.status_code, "duration_ms": round(elapsed_ms, 2)})
            # Embedded-metric-format lines: CloudWatch turns them into metrics in
            # Lambda; disabled locally (POWERTOOLS_METRICS_DISABLED).
            if not is_metrics_disabled():
                _emit_request_metrics(response.status_code, elapsed_ms)
            return response
        finally:
            logger.thread_safe_remove_keys(_REQUEST_KEYS)
            context.reset_request_id(token)


@contextlib.contextmanager
def _request_subsegment(request_id: str) -> Iterator[None]:
    """A ``## request`` X-Ray subsegment carrying the request id as an annotation.

    In Lambda the segment is the service's read-only *facade* segment: an
    annotation put on it raises, so it goes on a subsegment of our own.
    """
    if tracer.disabled:
        yield
        return
    with tracer.provider.in_subsegment("## request") as subsegment:
        subsegment.put_annotation("request_id", request_id)
        yield


def _emit_request_metrics(status_code: int, elapsed_ms: float) -> None:
    with _metrics_lock:
        metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="Latency", unit=MetricUnit.Milliseconds, value=elapsed_ms)
        if status_code >= 500:
            metrics.add_metric(name="ServerErrors", unit=MetricUnit.Count, value=1)
        metrics.flush_metrics()


def dependency_degraded(dependency: str, what: str, error: BaseException) -> None:
    """A dependency failed and the request went on without it (or answered 503): log and count it.

    One ``DependencyDegraded`` metric per occurrence with the dimension
    ``dependency`` (``database``, ``dynamodb``, ``ses``; the alarms in
    ``stacks/constructs/monitoring.py`` watch each), so an outage that no
    request reports as an error is still seen; the log line says what was
    done instead (``fallback``). Never raises.
    """
    logger.warning(
        "dependency degraded", extra={"dependency": dependency, "fallback": what, "error": type(error).__name__}
    )
    try:
        emit_count("DependencyDegraded", 1, dependency=dependency)
    except Exception:  # a metric must never fail the request it describes
        logger.exception("could not emit DependencyDegraded")


def emit_count(name: str, value: int, **dimensions: str) -> None:
    """One standalone count metric (dimension ``service`` plus ``dimensions``); nothing when metrics are off.

    ``single_metric`` flushes its own isolated buffer: it never interleaves
    with the request metrics of another thread of the local server.
    """
    if is_metrics_disabled():
        return
    with single_metric(
        name=name,
        unit=MetricUnit.Count,
        value=value,
        namespace=metrics.namespace,
        default_dimensions={"service": SERVICE},
    ) as metric:
        for dimension, dimension_value in dimensions.items():
            metric.add_dimension(name=dimension, value=dimension_value)
