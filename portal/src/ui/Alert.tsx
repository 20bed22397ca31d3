import type { ReactNode } from "react";
import { errorMessage } from "../api/errors";

export type AlertTone = "error" | "warning" | "success" | "info";

export interface AlertProps {
  tone?: AlertTone;
  title?: string;
  children?: ReactNode;
  /** e.g. a "Try again" button. */
  action?: ReactNode;
}

/** A message block; errors are announced at once (role="alert"), the rest politely. */
export function Alert({ tone = "info", title, children, action }: AlertProps) {
  return (
    <div className={`alert alert-${tone}`} role={tone === "error" ? "alert" : "status"}>
      <div className="alert-text">
        {title ? <p className="alert-title">{title}</p> : null}
        {children ? <div>{children}</div> : null}
      </div>
      {action ? <div className="alert-action">{action}</div> : null}
    </div>
  );
}

/** The error state of a query or mutation: the API's message in words, and an optional retry. */
export function ErrorAlert({ error, title = "Something went wrong", onRetry }: { error: unknown; title?: string; onRetry?: () => void }) {
  return (
    <Alert
      tone="error"
      title={title}
      action={
        onRetry ? (
          <button type="button" className="btn btn-secondary btn-sm" onClick={onRetry}>
            Try again
          </button>
        ) : undefined
      }
    >
      {errorMessage(error)}
    </Alert>
  );
}
