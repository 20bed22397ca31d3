import { PageHeader } from "../ui";

/** Security (issue 15): to be built on the shared design (portal.md). */
export function SecurityPage() {
  return (
    <>
      <PageHeader title="Security" />
      <p className="muted">Coming soon.</p>
    </>
  );
}
