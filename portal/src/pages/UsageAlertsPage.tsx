import { PageHeader } from "../ui";

/** Usage alerts (issue 15): to be built on the shared design (portal.md). */
export function UsageAlertsPage() {
  return (
    <>
      <PageHeader title="Usage alerts" />
      <p className="muted">Coming soon.</p>
    </>
  );
}
