/**
 * Audit events in words: an action code ("support_ticket.created") as a
 * phrase, the target as its kind and short id, and the `detail` object as a
 * few "key: value" pairs. The codes stay visible beside the phrase: they are
 * what the API and an export carry, and an unknown code still reads sensibly.
 */
import type { components } from "../../api/schema";

export type AuditEvent = components["schemas"]["AuditEvent"];

const ACTIONS: Record<string, string> = {
  "auth.succeeded": "Signed in",
  "auth.logout": "Signed out",
  "auth.refreshed": "Session refreshed",
  "auth.refresh_reused": "Reused refresh token refused",
  "auth.failed": "Sign-in refused",
  "auth.login_failed": "Login refused",
  "auth.mfa_failed": "Two-factor code refused",
  "auth.locked_out": "Sign-in locked for a while",
  "api_key.created": "API key created",
  "api_key.revoked": "API key revoked",
  "api_key.rotated": "API key rotated",
  "support_ticket.created": "Support ticket opened",
  "support_ticket.comment_added": "Comment added to a ticket",
  "support_ticket.closed": "Support ticket closed",
  "user.invited": "Person invited",
  "user.joined": "Invitation accepted",
  "user.role_changed": "Role changed",
  "user.removed": "Person removed",
  "user.mfa_enabled": "Two-factor authentication enabled",
  "user.mfa_disabled": "Two-factor authentication disabled",
  "user.mfa_enrolment_started": "Two-factor enrolment started",
  "user.password_reset": "Password reset",
  "user.password_reset_requested": "Password reset requested",
  "customer.created": "Organization created",
  "customer.changed": "Organization changed",
  "customer.settings_changed": "Organization settings changed",
  "usage.ingested": "Usage received",
  "usage_alert.created": "Usage alert created",
  "usage_alert.deleted": "Usage alert deleted",
  "usage_alert.triggered": "Usage alert triggered",
  "webhook_endpoint.created": "Webhook endpoint created",
  "webhook_endpoint.deleted": "Webhook endpoint deleted",
  "payment_method.attached": "Payment method added",
  "payment_customer.created": "Payment account created",
  "payment.collection_failed": "Payment collection failed",
  "payment.unapplied": "Payment not applied",
  "invoice.payment_failed": "Invoice payment failed",
  "notification.failed": "E-mail not delivered",
  "audit.purged": "Old audit events removed (retention)",
};

function sentence(words: string): string {
  const text = words.replace(/[_.]+/g, " ").trim();
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** "support_ticket.created" → "Support ticket opened"; an unknown code → "Some thing happened". */
export function actionLabel(action: string): string {
  return ACTIONS[action] ?? sentence(action);
}

const TARGETS: Record<string, string> = {
  api_key: "API key",
  customer: "Organization",
  user: "Person",
  webhook_endpoint: "Webhook endpoint",
};

/** "support_ticket" + id → "Support ticket 1a2b3c4d". */
export function targetLabel(event: AuditEvent): string {
  const kind = TARGETS[event.target_type] ?? sentence(event.target_type);
  return event.target_id ? `${kind} ${event.target_id.slice(0, 8)}` : kind;
}

const MAX_VALUE = 60;

function valueText(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE - 1)}…` : text;
}

/** The detail as "Key: value" lines (empty values left out, long ones shortened, nested ones as JSON). */
export function detailLines(detail: AuditEvent["detail"]): string[] {
  return Object.entries(detail)
    .filter(([, value]) => value !== null && value !== undefined && value !== "")
    .map(([key, value]) => `${sentence(key)}: ${valueText(value)}`);
}

let timeFormat: Intl.DateTimeFormat | null = null;

/** The time of day with seconds, for the user's locale ("14:05:09"): an audit trail orders by the second. */
export function formatTime(value: string): string {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  timeFormat ??= new Intl.DateTimeFormat(navigator.language || "en-US", { timeStyle: "medium" });
  return timeFormat.format(date);
}
