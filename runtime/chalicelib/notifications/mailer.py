"""Sending one e-mail through SES (moto's endpoint locally, the real service in the cloud)."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.core import aws
from chalicelib.core.settings import get_settings
from chalicelib.notifications.models import OutgoingEmail

MAX_ERROR_LENGTH = 1000


class DeliveryFailed(Exception):
    """SES refused or could not be reached; the message says why (no secrets in it).

    ``transient``: SES could not serve (an outage, throttling), so the e-mail
    stays queued and goes out later; otherwise SES refused *this* message.
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


def send(email: OutgoingEmail) -> str | None:
    """Send ``email``; return SES's message id. Raises :class:`DeliveryFailed`."""
    body = {"Text": {"Data": email.text_body, "Charset": "UTF-8"}}
    if email.html_body:
        body["Html"] = {"Data": email.html_body, "Charset": "UTF-8"}
    try:
        response = aws.client("ses").send_email(
            Source=get_settings().ses_sender,
            Destination={"ToAddresses": [email.recipient]},
            Message={"Subject": {"Data": email.subject, "Charset": "UTF-8"}, "Body": body},
        )
    except aws.DependencyUnavailable as exc:
        raise DeliveryFailed(str(exc)[:MAX_ERROR_LENGTH], transient=True) from exc
    except ClientError as exc:
        error = exc.response.get("Error", {})
        message = f"{error.get('Code', 'ClientError')}: {error.get('Message', '')}"
        raise DeliveryFailed(message[:MAX_ERROR_LENGTH]) from exc
    except BotoCoreError as exc:
        # A connection error is SES being unreachable; a ParamValidationError is this message's fault.
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH], transient=aws.is_outage(exc)) from exc
    message_id: str | None = response.get("MessageId")
    return message_id
