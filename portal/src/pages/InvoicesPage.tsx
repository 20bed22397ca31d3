import { PageHeader } from "../ui";

/** Invoices (issue 15): to be built on the shared design (portal.md). */
export function InvoicesPage() {
  return (
    <>
      <PageHeader title="Invoices" />
      <p className="muted">Coming soon.</p>
    </>
  );
}
