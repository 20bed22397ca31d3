import { PageHeader } from "../ui";

/** Dashboard (issue 15): to be built on the shared design (portal.md). */
export function DashboardPage() {
  return (
    <>
      <PageHeader title="Dashboard" />
      <p className="muted">Coming soon.</p>
    </>
  );
}
