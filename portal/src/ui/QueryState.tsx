import type { ReactNode } from "react";
import { ErrorAlert } from "./Alert";
import { EmptyState } from "./EmptyState";
import { Loading } from "./Spinner";

export interface QueryStateProps<T> {
  /** A TanStack Query result (useQuery's), or anything with the same three fields. */
  query: { data: T | undefined; error: unknown; isPending: boolean; refetch?: () => unknown };
  /** Is the loaded data "nothing"? Then `empty` is shown instead of children. */
  isEmpty?: (data: T) => boolean;
  empty?: ReactNode;
  loadingLabel?: string;
  errorTitle?: string;
  children: (data: T) => ReactNode;
}

/**
 * The three states every page shows, in one place: loading, error (with "Try again"),
 * empty, then the data.
 *
 * ```tsx
 * <QueryState query={invoice} errorTitle="Could not load the invoice">
 *   {(inv) => <InvoiceView invoice={inv} />}
 * </QueryState>
 * ```
 */
export function QueryState<T>({ query, isEmpty, empty, loadingLabel, errorTitle, children }: QueryStateProps<T>) {
  if (query.error) {
    const refetch = query.refetch;
    return <ErrorAlert error={query.error} title={errorTitle} onRetry={refetch ? () => void refetch() : undefined} />;
  }
  if (query.isPending || query.data === undefined) return <Loading label={loadingLabel} />;
  if (isEmpty && isEmpty(query.data)) return <>{empty ?? <EmptyState title="Nothing here yet" />}</>;
  return <>{children(query.data)}</>;
}
