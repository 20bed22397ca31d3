import { PageHeader } from "../ui";

/** Support ticket (issue 15): to be built on the shared design (portal.md). */
export function TicketDetailPage() {
  return (
    <>
      <PageHeader title="Support ticket" />
      <p className="muted">Coming soon.</p>
    </>
  );
}
