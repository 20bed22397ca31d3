import { PageHeader } from "../ui";

/** Notifications (issue 15): to be built on the shared design (portal.md). */
export function NotificationsPage() {
  return (
    <>
      <PageHeader title="Notifications" />
      <p className="muted">Coming soon.</p>
    </>
  );
}
