import { PageHeader } from "../ui";

/** Team (issue 15): to be built on the shared design (portal.md). */
export function TeamPage() {
  return (
    <>
      <PageHeader title="Team" />
      <p className="muted">Coming soon.</p>
    </>
  );
}
