/**
 * "Add endpoint": URL, description and the events to receive, in a dialog; on
 * success the same dialog shows the signing secret, the one time the API ever
 * returns it, with a copy button. Closing the dialog forgets it.
 */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useId, useState, type FormEvent } from "react";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import type { components } from "../../api/schema";
import { Alert, Button, Checkbox, Dialog, ErrorAlert, SecretValue, TextInput } from "../../ui";
import { WEBHOOK_EVENT_TYPES } from "./events";

type NewEndpoint = components["schemas"]["NewEndpointResponse"];

export const ENDPOINTS_KEY = ["webhook-endpoints"] as const;

function urlProblem(value: string): string | null {
  const text = value.trim();
  if (text === "") return "Enter the URL that receives the events.";
  try {
    const url = new URL(text);
    if (url.protocol !== "https:" && url.protocol !== "http:") return "Use an https:// URL.";
  } catch {
    return "Enter a full URL, such as https://example.com/webhooks.";
  }
  return null;
}

export function CreateEndpointDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const queryClient = useQueryClient();
  const formId = useId();
  const eventsLabelId = useId();
  const [url, setUrl] = useState("");
  const [description, setDescription] = useState("");
  const [events, setEvents] = useState<string[]>([]);
  const [problems, setProblems] = useState<{ url?: string | null; events?: string | null }>({});
  const create = useMutation({
    mutationFn: (body: { url: string; events: string[]; description: string }) => unwrap(api.POST("/webhook-endpoints", { body })),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ENDPOINTS_KEY }),
  });
  const created: NewEndpoint | undefined = create.data;

  const close = () => {
    create.reset(); // the secret goes with the answer that carried it
    setUrl("");
    setDescription("");
    setEvents([]);
    setProblems({});
    onClose();
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const found = { url: urlProblem(url), events: events.length === 0 ? "Choose at least one event." : null };
    setProblems(found);
    if (found.url || found.events) return;
    create.mutate({ url: url.trim(), events, description: description.trim() });
  };

  const toggle = (type: string, checked: boolean) => {
    setEvents((current) => (checked ? [...current, type] : current.filter((t) => t !== type)));
    setProblems((p) => ({ ...p, events: null }));
  };

  if (created) {
    return (
      <Dialog open={open} title="Endpoint created" onClose={close} footer={<Button onClick={close}>Done</Button>}>
        <div className="stack">
          <Alert tone="warning" title="Copy the signing secret now">
            It is shown only this once. Use it to verify the <code>webhook-signature</code> header of each event; if you lose it, delete
            the endpoint and add it again.
          </Alert>
          <SecretValue value={created.secret} label="Signing secret" />
          <p className="muted small">Events sent: {created.events.join(", ")}.</p>
        </div>
      </Dialog>
    );
  }

  return (
    <Dialog
      open={open}
      title="Add a webhook endpoint"
      onClose={close}
      footer={
        <>
          <Button variant="secondary" onClick={close} disabled={create.isPending}>
            Cancel
          </Button>
          <Button type="submit" form={formId} loading={create.isPending}>
            Create endpoint
          </Button>
        </>
      }
    >
      <form id={formId} className="stack" onSubmit={submit} noValidate>
        {create.error ? <ErrorAlert error={create.error} title="The endpoint was not created" /> : null}
        <TextInput
          label="Endpoint URL"
          type="url"
          inputMode="url"
          autoComplete="off"
          spellCheck={false}
          value={url}
          error={problems.url}
          hint="An https URL that accepts POST requests with a JSON body."
          onChange={(e) => {
            setUrl(e.target.value);
            setProblems((p) => ({ ...p, url: null }));
          }}
        />
        <TextInput label="Description (optional)" maxLength={500} value={description} onChange={(e) => setDescription(e.target.value)} />
        <div className="field" role="group" aria-labelledby={eventsLabelId} aria-describedby={problems.events ? `${eventsLabelId}-error` : undefined}>
          <p id={eventsLabelId} className="field-label">
            Events to send
          </p>
          {WEBHOOK_EVENT_TYPES.map((e) => (
            <Checkbox key={e.type} label={e.type} hint={e.description} checked={events.includes(e.type)} onChange={(ev) => toggle(e.type, ev.target.checked)} />
          ))}
          {problems.events ? (
            <p id={`${eventsLabelId}-error`} className="field-error">
              {problems.events}
            </p>
          ) : null}
        </div>
      </form>
    </Dialog>
  );
}
