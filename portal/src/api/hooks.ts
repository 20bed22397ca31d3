/**
 * Query helpers shared by the pages: a cursor-paginated list and the query client.
 *
 * Lists use the API's own cursors (`{"items": [...], "next_cursor": ...}`) through
 * `useInfiniteQuery`, so "Load more" appends the next page and a mutation's
 * `invalidateQueries({ queryKey: [...] })` refetches what is shown.
 */
import { QueryClient, useInfiniteQuery, type QueryKey } from "@tanstack/react-query";
import { ApiError } from "./errors";

export function makeQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 15_000,
        refetchOnWindowFocus: false,
        // The client already refreshed on 401 and waited on 429: do not hammer a 4xx again.
        retry: (failures, error) => !(error instanceof ApiError && error.status < 500) && failures < 2,
      },
      mutations: { retry: false },
    },
  });
}

export interface CursorPage<T> {
  items: T[];
  next_cursor?: string | null;
}

export interface CursorList<T> {
  items: T[];
  isLoading: boolean;
  error: unknown;
  hasMore: boolean;
  isLoadingMore: boolean;
  loadMore: () => void;
  refetch: () => void;
}

/**
 * A cursor-paginated list: `fetchPage(cursor)` returns one page (undefined cursor = first).
 *
 * ```ts
 * const keys = useCursorList(["api-keys"], (cursor) =>
 *   unwrap(api.GET("/api-keys", { params: { query: { cursor, limit: 25 } } })));
 * ```
 */
export function useCursorList<T>(
  queryKey: QueryKey,
  fetchPage: (cursor: string | undefined) => Promise<CursorPage<T>>,
  options: { enabled?: boolean } = {},
): CursorList<T> {
  const query = useInfiniteQuery({
    queryKey,
    queryFn: ({ pageParam }) => fetchPage(pageParam),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last: CursorPage<T>) => last.next_cursor ?? undefined,
    enabled: options.enabled ?? true,
  });
  return {
    items: query.data?.pages.flatMap((page) => page.items) ?? [],
    isLoading: query.isPending && query.fetchStatus !== "idle",
    error: query.error,
    hasMore: query.hasNextPage,
    isLoadingMore: query.isFetchingNextPage,
    loadMore: () => void query.fetchNextPage(),
    refetch: () => void query.refetch(),
  };
}
