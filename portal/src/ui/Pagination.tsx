import { Button } from "./Button";

export interface PaginationProps {
  /** The API returned a `next_cursor`. */
  hasMore: boolean;
  loading: boolean;
  onLoadMore: () => void;
  /** How many items are shown, for the "Showing N" text. */
  shown?: number;
  label?: string;
}

/** Cursor pagination: "Load more" appends the next page (pairs with `useCursorList`). */
export function Pagination({ hasMore, loading, onLoadMore, shown, label = "Load more" }: PaginationProps) {
  if (!hasMore && shown === undefined) return null;
  return (
    <div className="pagination">
      {shown !== undefined ? <span className="muted">Showing {shown}</span> : <span />}
      {hasMore ? (
        <Button variant="secondary" size="sm" loading={loading} onClick={onLoadMore}>
          {label}
        </Button>
      ) : null}
    </div>
  );
}
