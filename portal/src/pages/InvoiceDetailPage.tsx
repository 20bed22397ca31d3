import { PageHeader } from "../ui";

/** Invoice (issue 15): to be built on the shared design (portal.md). */
export function InvoiceDetailPage() {
  return (
    <>
      <PageHeader title="Invoice" />
      <p className="muted">Coming soon.</p>
    </>
  );
}
