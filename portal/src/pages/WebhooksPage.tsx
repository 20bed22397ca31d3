import { PageHeader } from "../ui";

/** Webhooks (issue 15): to be built on the shared design (portal.md). */
export function WebhooksPage() {
  return (
    <>
      <PageHeader title="Webhooks" />
      <p className="muted">Coming soon.</p>
    </>
  );
}
