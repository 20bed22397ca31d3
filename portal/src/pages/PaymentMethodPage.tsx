import { PageHeader } from "../ui";

/** Payment method (issue 15): to be built on the shared design (portal.md). */
export function PaymentMethodPage() {
  return (
    <>
      <PageHeader title="Payment method" />
      <p className="muted">Coming soon.</p>
    </>
  );
}
