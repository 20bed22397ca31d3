/**
 * /usage-alerts: thresholds on a month's usage of a metric (an e-mail and a
 * `usage.threshold_reached` webhook, once a month, when usage reaches one).
 *
 * The metric choices are the tenant's catalog as the API exposes it: the metrics
 * `GET /metrics` reports for the tier (each with its included amount, a useful
 * hint for where to put a threshold). Thresholds are decimal strings, checked
 * here against the API's own pattern before sending; the API's refusals (a
 * duplicate, the tenant's limit) are shown as it words them.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { api } from "../api/client";
import { unwrap } from "../api/errors";
import { useCursorList } from "../api/hooks";
import type { components } from "../api/schema";
import {
  Alert,
  Button,
  Card,
  Dialog,
  EmptyState,
  ErrorAlert,
  PageHeader,
  Pagination,
  QueryState,
  Select,
  Table,
  TextInput,
  currentPeriod,
  formatDate,
  formatMetric,
  formatNumber,
  formatPeriod,
  type Column,
} from "../ui";

type UsageAlert = components["schemas"]["UsageAlertResponse"];

const ALERTS_KEY = ["usage-alerts"] as const;
// The API's CreateAlertBody.threshold: up to 11 digits, up to 6 decimals, and above zero.
const THRESHOLD = /^[0-9]{1,11}(\.[0-9]{1,6})?$/;
const MAX_THRESHOLD = 1e10;

function thresholdProblem(value: string): string | null {
  const text = value.trim();
  if (text === "") return "Enter a threshold.";
  if (!THRESHOLD.test(text)) return "Use digits only, with at most 6 decimal places (for example 100000 or 2500.5).";
  const n = Number(text);
  if (!(n > 0)) return "The threshold must be above zero.";
  if (n > MAX_THRESHOLD) return "The threshold can be at most 10,000,000,000.";
  return null;
}

function describeAlert(alert: UsageAlert): string {
  return `${formatMetric(alert.metric)} at ${formatNumber(alert.threshold, 6)}`;
}

function CreateAlertForm() {
  const queryClient = useQueryClient();
  const catalog = useQuery({
    // Its own key: the dashboard caches GET /metrics under ["metrics", period] and may ask it for more.
    queryKey: ["metrics", "catalog", currentPeriod()],
    queryFn: () => unwrap(api.GET("/metrics", { params: { query: { period: currentPeriod() } } })),
  });
  const [metric, setMetric] = useState("");
  const [threshold, setThreshold] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const create = useMutation({
    mutationFn: (body: { metric: string; threshold: string }) => unwrap(api.POST("/usage-alerts", { body })),
    onSuccess: () => {
      setThreshold("");
      void queryClient.invalidateQueries({ queryKey: ALERTS_KEY });
    },
  });
  const metrics = catalog.data?.metrics ?? [];
  const chosen = metric || metrics[0]?.metric || "";
  const included = metrics.find((m) => m.metric === chosen)?.included;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const issue = thresholdProblem(threshold);
    setProblem(issue);
    if (issue || !chosen) return;
    create.mutate({ metric: chosen, threshold: threshold.trim() });
  };

  return (
    <Card title="New alert">
      <QueryState query={catalog} loadingLabel="Loading your metrics…" errorTitle="Could not load your metrics" isEmpty={(d) => d.metrics.length === 0} empty={<EmptyState title="No metrics in your plan" />}>
        {() => (
          <form className="form" onSubmit={submit} noValidate>
            {create.isSuccess ? <Alert tone="success">Alert created: {describeAlert(create.data)}.</Alert> : null}
            {create.error ? <ErrorAlert error={create.error} title="The alert was not created" /> : null}
            <Select label="Metric" options={metrics.map((m) => ({ value: m.metric, label: formatMetric(m.metric) }))} value={chosen} onChange={(e) => setMetric(e.target.value)} />
            <TextInput
              label="Threshold"
              inputMode="decimal"
              autoComplete="off"
              value={threshold}
              error={problem}
              onChange={(e) => {
                setThreshold(e.target.value);
                if (problem) setProblem(null);
                if (!create.isIdle) create.reset(); // the last answer no longer describes the form
              }}
              hint={included !== undefined ? `Units in a calendar month. Your plan includes ${formatNumber(included, 6)} a month.` : "Units in a calendar month."}
            />
            <div>
              <Button type="submit" loading={create.isPending}>
                Create alert
              </Button>
            </div>
          </form>
        )}
      </QueryState>
    </Card>
  );
}

export function UsageAlertsPage() {
  const queryClient = useQueryClient();
  const alerts = useCursorList(ALERTS_KEY, (cursor) => unwrap(api.GET("/usage-alerts", { params: { query: { cursor, limit: 50 } } })));
  const [deleting, setDeleting] = useState<UsageAlert | null>(null);
  const remove = useMutation({
    mutationFn: (alert: UsageAlert) => unwrap(api.DELETE("/usage-alerts/{alert_id}", { params: { path: { alert_id: alert.id } } })),
    onSuccess: () => {
      setDeleting(null);
      void queryClient.invalidateQueries({ queryKey: ALERTS_KEY });
    },
  });
  const close = () => {
    setDeleting(null);
    remove.reset();
  };

  const columns: readonly Column<UsageAlert>[] = [
    { key: "metric", header: "Metric", render: (a) => formatMetric(a.metric) },
    { key: "threshold", header: "Threshold", align: "right", render: (a) => formatNumber(a.threshold, 6) },
    { key: "fired", header: "Last reached", render: (a) => (a.last_triggered_period ? formatPeriod(a.last_triggered_period) : "Not yet") },
    { key: "created", header: "Created", render: (a) => formatDate(a.created_at) },
    {
      key: "actions",
      header: "Actions",
      align: "right",
      render: (a) => (
        <Button variant="secondary" size="sm" aria-label={`Delete the alert for ${describeAlert(a)}`} onClick={() => setDeleting(a)}>
          Delete
        </Button>
      ),
    },
  ];

  return (
    <>
      <PageHeader title="Usage alerts" description="Get an e-mail (and a usage.threshold_reached webhook) the first time a month's usage of a metric reaches a threshold." />
      <div className="stack">
        <Card title="Your alerts">
          <QueryState
            query={{ data: alerts.isLoading ? undefined : alerts.items, error: alerts.error, isPending: alerts.isLoading, refetch: alerts.refetch }}
            loadingLabel="Loading alerts…"
            errorTitle="Could not load your alerts"
            isEmpty={(items) => items.length === 0}
            empty={<EmptyState title="No alerts yet">Create one below to hear when usage reaches a level you choose.</EmptyState>}
          >
            {(items) => (
              <>
                <Table caption="Usage alerts" columns={columns} rows={items} rowKey={(a) => a.id} />
                <Pagination hasMore={alerts.hasMore} loading={alerts.isLoadingMore} onLoadMore={alerts.loadMore} label="Load more alerts" />
              </>
            )}
          </QueryState>
        </Card>
        <CreateAlertForm />
      </div>
      <Dialog
        open={deleting !== null}
        title="Delete this alert?"
        onClose={close}
        footer={
          <>
            <Button variant="secondary" onClick={close} disabled={remove.isPending}>
              Cancel
            </Button>
            <Button variant="danger" loading={remove.isPending} onClick={() => deleting && remove.mutate(deleting)}>
              Delete alert
            </Button>
          </>
        }
      >
        {remove.error ? <ErrorAlert error={remove.error} title="The alert was not deleted" /> : null}
        <p>{deleting ? `The alert for ${describeAlert(deleting)} stops at once. You can create it again later.` : null}</p>
      </Dialog>
    </>
  );
}
