/** A spinner; `decorative` hides it from assistive technology (the caller says what is loading). */
export function Spinner({ size = "md", decorative = false }: { size?: "sm" | "md"; decorative?: boolean }) {
  return <span className={`spinner spinner-${size}`} aria-hidden={decorative || undefined} role={decorative ? undefined : "status"} aria-label={decorative ? undefined : "Loading"} />;
}

/** A loading state for a page or a card: spinner and words, announced politely. */
export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <div className="loading" role="status" aria-live="polite">
      <Spinner decorative />
      <span>{label}</span>
    </div>
  );
}
