/**
 * Small pieces the ticket pages share: the status and priority badges, the
 * priority choices, a ticket's short reference, and multi-line text shown as
 * paragraphs (the stylesheet has no pre-wrap class and the CSP forbids inline
 * styles, so line breaks become <p> and <br>).
 */
import { Fragment } from "react";
import type { components } from "../../api/schema";
import { Badge, type BadgeTone, type SelectOption } from "../../ui";

export type Ticket = components["schemas"]["Ticket"];
export type TicketDetail = components["schemas"]["TicketDetail"];
export type Priority = Ticket["priority"];
export type TicketStatus = Ticket["status"];

/** Query keys: every ticket query starts with "tickets", so one invalidation refreshes list and detail. */
export const ticketKeys = {
  all: ["tickets"] as const,
  list: (status: TicketStatus | null) => ["tickets", "list", status ?? "all"] as const,
  detail: (id: string) => ["tickets", "detail", id] as const,
};

/** The contract's limits (tickets/models.py): checked here too, so the form says what is wrong before sending. */
export const SUBJECT_MAX = 200;
export const BODY_MAX = 20_000;

const PRIORITY_LABELS: Record<Priority, string> = { low: "Low", normal: "Normal", high: "High", urgent: "Urgent" };
const PRIORITY_TONES: Record<Priority, BadgeTone> = { low: "neutral", normal: "info", high: "warning", urgent: "danger" };

export const PRIORITY_OPTIONS: readonly SelectOption[] = (Object.keys(PRIORITY_LABELS) as Priority[]).map((p) => ({
  value: p,
  label: PRIORITY_LABELS[p],
}));

export function isPriority(value: string): value is Priority {
  return value in PRIORITY_LABELS;
}

export function isTicketStatus(value: string | null): value is TicketStatus {
  return value === "open" || value === "closed";
}

export function PriorityBadge({ priority }: { priority: Priority }) {
  return <Badge tone={PRIORITY_TONES[priority]}>{PRIORITY_LABELS[priority]}</Badge>;
}

export function StatusBadge({ status }: { status: TicketStatus }) {
  return <Badge tone={status === "open" ? "success" : "neutral"}>{status === "open" ? "Open" : "Closed"}</Badge>;
}

/** The first 8 characters of the id: what the confirmation e-mail's subject calls the ticket. */
export function ticketReference(id: string): string {
  return id.slice(0, 8);
}

/** "Is there any text?" as the API decides it: at least one character that is not ASCII whitespace. */
export function isBlank(text: string): boolean {
  return !/[^\x09-\x0d\x20]/.test(text);
}

/** Text as typed: blank lines separate paragraphs, single line breaks stay line breaks. */
export function MultilineText({ text }: { text: string }) {
  const paragraphs = text.split(/\r?\n\s*\r?\n/).filter((p) => !isBlank(p));
  return (
    <>
      {paragraphs.map((paragraph, i) => (
        <p key={i}>
          {paragraph.split(/\r?\n/).map((line, j) => (
            <Fragment key={j}>
              {j > 0 ? <br /> : null}
              {line}
            </Fragment>
          ))}
        </p>
      ))}
    </>
  );
}
