"""Domain errors, and the one place that turns them into HTTP responses.

Services raise these and never import chalice. Chalice turns any exception
that is not a ``ChaliceViewError`` into a 500 before middleware sees it, so the
translation happens inside the view layer: :func:`chalicelib.core.http.route`
wraps every view and calls :func:`to_response`.
"""

from __future__ import annotations

from chalice import Response


class DomainError(Exception):
    """Base class: ``status`` is the HTTP status, ``code`` the Chalice error name."""

    status = 500
    code = "InternalServerError"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class BadRequest(DomainError):
    status, code = 400, "BadRequestError"


class Unauthorized(DomainError):
    status, code = 401, "UnauthorizedError"


class Forbidden(DomainError):
    status, code = 403, "ForbiddenError"


class NotFound(DomainError):
    status, code = 404, "NotFoundError"


class Conflict(DomainError):
    status, code = 409, "ConflictError"


class PayloadTooLarge(DomainError):
    status, code = 413, "PayloadTooLargeError"


class Unprocessable(DomainError):
    status, code = 422, "UnprocessableEntityError"


class RateLimited(DomainError):
    status, code = 429, "TooManyRequestsError"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, headers={"Retry-After": str(max(1, int(retry_after)))})
        self.retry_after = max(1, int(retry_after))


class ServiceUnavailable(DomainError):
    status, code = 503, "ServiceUnavailableError"


def to_response(error: DomainError) -> Response:
    """Chalice's native error shape: ``{"Code": ..., "Message": ...}``."""
    return Response(
        body={"Code": error.code, "Message": error.message},
        status_code=error.status,
        headers=dict(error.headers),
    )
