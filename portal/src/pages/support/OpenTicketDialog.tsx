/**
 * "Open a ticket": subject, description and priority (the contract's
 * TicketCreate; the API has no category). Checked here against the API's own
 * rules (not blank, at most 200 / 20,000 characters) so a mistake is shown at
 * the field; anything the API still refuses is shown above the form.
 */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useId, useState, type FormEvent } from "react";
import { api } from "../../api/client";
import { errorMessage, unwrap } from "../../api/errors";
import { Alert, Button, Dialog, Select, TextArea, TextInput, formatNumber } from "../../ui";
import { BODY_MAX, PRIORITY_OPTIONS, SUBJECT_MAX, isBlank, isPriority, ticketKeys, type Priority, type Ticket } from "./ticketParts";

interface Errors {
  subject?: string;
  body?: string;
}

function validate(subject: string, body: string): Errors {
  const errors: Errors = {};
  if (isBlank(subject)) errors.subject = "Enter a subject.";
  else if (subject.length > SUBJECT_MAX) errors.subject = `At most ${formatNumber(SUBJECT_MAX)} characters (now ${formatNumber(subject.length)}).`;
  if (isBlank(body)) errors.body = "Describe the problem or question.";
  else if (body.length > BODY_MAX) errors.body = `At most ${formatNumber(BODY_MAX)} characters (now ${formatNumber(body.length)}).`;
  return errors;
}

export interface OpenTicketDialogProps {
  open: boolean;
  onClose: () => void;
  onOpened: (ticket: Ticket) => void;
}

export function OpenTicketDialog({ open, onClose, onOpened }: OpenTicketDialogProps) {
  const formId = useId();
  const queryClient = useQueryClient();
  const [subject, setSubject] = useState("");
  const [body, setBody] = useState("");
  const [priority, setPriority] = useState<Priority>("normal");
  const [errors, setErrors] = useState<Errors>({});

  const reset = () => {
    setSubject("");
    setBody("");
    setPriority("normal");
    setErrors({});
    create.reset();
  };

  const create = useMutation({
    mutationFn: () => unwrap(api.POST("/support-tickets", { body: { subject, body, priority } })),
    onSuccess: (ticket) => {
      void queryClient.invalidateQueries({ queryKey: ticketKeys.all });
      // The confirmation e-mail is a new notification.
      void queryClient.invalidateQueries({ queryKey: ["notifications"] });
      reset();
      onOpened(ticket);
    },
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const found = validate(subject, body);
    setErrors(found);
    if (found.subject || found.body) return;
    create.mutate();
  };

  const close = () => {
    if (create.isPending) return;
    reset();
    onClose();
  };

  return (
    <Dialog
      open={open}
      title="Open a ticket"
      onClose={close}
      footer={
        <>
          <Button variant="secondary" onClick={close} disabled={create.isPending}>
            Cancel
          </Button>
          <Button type="submit" form={formId} loading={create.isPending}>
            Open ticket
          </Button>
        </>
      }
    >
      <form id={formId} className="form" onSubmit={submit} noValidate>
        {create.isError ? (
          <Alert tone="error" title="The ticket was not opened">
            {errorMessage(create.error)}
          </Alert>
        ) : null}
        <TextInput
          label="Subject"
          name="subject"
          required
          maxLength={SUBJECT_MAX}
          value={subject}
          error={errors.subject}
          onChange={(e) => {
            setSubject(e.target.value);
            setErrors((current) => ({ ...current, subject: undefined }));
          }}
        />
        <TextArea
          label="Description"
          name="body"
          required
          rows={6}
          value={body}
          error={errors.body}
          hint="What happened, what you expected, and any IDs (invoice, request ID) that help us find it."
          onChange={(e) => {
            setBody(e.target.value);
            setErrors((current) => ({ ...current, body: undefined }));
          }}
        />
        <Select
          label="Priority"
          name="priority"
          options={PRIORITY_OPTIONS}
          value={priority}
          hint="How soon you need an answer. A confirmation is e-mailed to your organization's address."
          onChange={(e) => {
            if (isPriority(e.target.value)) setPriority(e.target.value);
          }}
        />
      </form>
    </Dialog>
  );
}
