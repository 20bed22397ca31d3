import { useEffect, useState } from "react";

/**
 * Copies `value` to the clipboard; the button says "Copied" for two seconds.
 * `label` names what is copied ("Copy secret"), so several on a page stay distinct.
 */
export function CopyButton({ value, label = "Copy" }: { value: string; label?: string }) {
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");
  useEffect(() => {
    if (state === "idle") return;
    const timer = window.setTimeout(() => setState("idle"), 2000);
    return () => window.clearTimeout(timer);
  }, [state]);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setState("copied");
    } catch {
      setState("failed");
    }
  };
  return (
    <button type="button" className="btn btn-secondary btn-sm" onClick={() => void copy()} aria-live="polite">
      {state === "copied" ? "Copied" : state === "failed" ? "Copy failed: select and copy" : label}
    </button>
  );
}

/** A value shown once (a new API key, a webhook secret): monospace, selectable, with its copy button. */
export function SecretValue({ value, label }: { value: string; label: string }) {
  return (
    <div className="secret">
      <code className="secret-value">{value}</code>
      <CopyButton value={value} label={`Copy ${label.toLowerCase()}`} />
    </div>
  );
}
