import { PageHeader } from "../ui";

/** API keys (issue 15): to be built on the shared design (portal.md). */
export function ApiKeysPage() {
  return (
    <>
      <PageHeader title="API keys" />
      <p className="muted">Coming soon.</p>
    </>
  );
}
