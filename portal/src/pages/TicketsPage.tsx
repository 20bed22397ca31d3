import { PageHeader } from "../ui";

/** Support tickets (issue 15): to be built on the shared design (portal.md). */
export function TicketsPage() {
  return (
    <>
      <PageHeader title="Support tickets" />
      <p className="muted">Coming soon.</p>
    </>
  );
}
