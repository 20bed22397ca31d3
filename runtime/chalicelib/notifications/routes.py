"""``GET /notifications``: the caller's e-mail delivery records."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.core.context import current_customer_id
from chalicelib.core.http import route
from chalicelib.notifications import service
from chalicelib.notifications.models import NotificationPageResponse, NotificationsQuery

bp = Blueprint(__name__)


@route(bp, "/notifications", auth="customer", query=NotificationsQuery,
       response=NotificationPageResponse,
       summary="E-mail delivery records (queued, sent, failed), newest first", tags=("notifications",),
       errors=(400, 401, 403, 429))
def list_notifications(query: NotificationsQuery) -> dict:
    return service.list_notifications(current_customer_id(), limit=query.limit, cursor=query.cursor).as_json()
