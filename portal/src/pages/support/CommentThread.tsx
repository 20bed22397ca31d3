/**
 * A ticket's conversation: the comments, oldest first, each with who wrote it
 * and when; and, while the ticket is open and the role may write, the form that
 * adds one (a closed ticket takes no comments: the API answers 409).
 */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api } from "../../api/client";
import { errorMessage, unwrap } from "../../api/errors";
import type { components } from "../../api/schema";
import { Alert, Button, Card, EmptyState, TextArea, formatDateTime, formatNumber } from "../../ui";
import { describeActor, type ActorDirectory } from "./actors";
import { BODY_MAX, MultilineText, isBlank, ticketKeys } from "./ticketParts";

type Comment = components["schemas"]["Comment"];

export function CommentList({ comments, directory }: { comments: readonly Comment[]; directory: ActorDirectory }) {
  if (comments.length === 0) return <EmptyState title="No comments yet">Comments on this ticket appear here, oldest first.</EmptyState>;
  return (
    <div className="stack">
      {comments.map((comment) => {
        const author = describeActor(comment.author, directory);
        return (
          <Card
            key={comment.id}
            level={3}
            title={author.name}
            actions={
              <time className="muted small" dateTime={comment.created_at}>
                {formatDateTime(comment.created_at)}
              </time>
            }
          >
            <MultilineText text={comment.body} />
          </Card>
        );
      })}
    </div>
  );
}

export function AddCommentForm({ ticketId }: { ticketId: string }) {
  const queryClient = useQueryClient();
  const [body, setBody] = useState("");
  const [fieldError, setFieldError] = useState<string | null>(null);
  const add = useMutation({
    mutationFn: () => unwrap(api.POST("/support-tickets/{id}/comments", { params: { path: { id: ticketId } }, body: { body } })),
    onSuccess: () => {
      setBody("");
      void queryClient.invalidateQueries({ queryKey: ticketKeys.all });
    },
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const error = isBlank(body) ? "Write a comment first." : body.length > BODY_MAX ? `At most ${formatNumber(BODY_MAX)} characters.` : null;
    setFieldError(error);
    if (error === null) add.mutate();
  };

  return (
    <form className="form" onSubmit={submit} noValidate>
      {add.isError ? (
        <Alert tone="error" title="The comment was not added">
          {errorMessage(add.error)}
        </Alert>
      ) : null}
      {add.isSuccess ? <Alert tone="success">Comment added.</Alert> : null}
      <TextArea
        label="Comment"
        name="comment"
        rows={4}
        value={body}
        error={fieldError}
        onChange={(e) => {
          setBody(e.target.value);
          setFieldError(null);
          if (add.isSuccess || add.isError) add.reset();
        }}
      />
      <div className="row">
        <Button type="submit" loading={add.isPending}>
          Add comment
        </Button>
      </div>
    </form>
  );
}
