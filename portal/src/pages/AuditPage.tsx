import { PageHeader } from "../ui";

/** Audit trail (issue 15): to be built on the shared design (portal.md). */
export function AuditPage() {
  return (
    <>
      <PageHeader title="Audit trail" />
      <p className="muted">Coming soon.</p>
    </>
  );
}
