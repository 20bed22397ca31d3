/**
 * / : this month's usage per metric against the included amount (with the chart),
 * and, for roles that read invoices, the upcoming invoice and its forecast.
 */
import { useQuery } from "@tanstack/react-query";
import { api } from "../api/client";
import { unwrap } from "../api/errors";
import { useSession } from "../session/useSession";
import { PageHeader, QueryState, currentPeriod, formatPeriod } from "../ui";
import { UpcomingInvoiceCard, useUpcomingInvoice } from "./dashboard/UpcomingInvoiceCard";
import { UsageCard } from "./dashboard/UsageCard";

export const usageQueryKey = (period: string) => ["metrics", period] as const;

export function DashboardPage() {
  const session = useSession();
  const period = currentPeriod();
  const usage = useQuery({
    queryKey: usageQueryKey(period),
    // daily: each metric's usage per UTC day, which the chart accumulates day by day.
    queryFn: () => unwrap(api.GET("/metrics", { params: { query: { period, daily: true } } })),
  });
  const showInvoice = session.can("invoices");
  const upcoming = useUpcomingInvoice(showInvoice);
  const asOf = upcoming.data?.as_of ? Date.parse(upcoming.data.as_of) : usage.dataUpdatedAt || Date.now();

  return (
    <>
      <PageHeader
        title="Dashboard"
        description={`${session.customer?.name ?? "Your organization"} · ${session.customer ? `${session.customer.tier} plan · ` : ""}${formatPeriod(period)} (UTC)`}
      />
      <div className="stack">
        <QueryState query={usage} loadingLabel="Loading usage…" errorTitle="Could not load usage">
          {(data) => <UsageCard usage={data} billingStartDate={session.customer?.billing_start_date ?? null} now={asOf} />}
        </QueryState>
        {showInvoice ? <UpcomingInvoiceCard query={upcoming} /> : null}
      </div>
    </>
  );
}
