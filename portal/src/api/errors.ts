/**
 * API errors as exceptions, for TanStack Query.
 *
 * openapi-fetch returns `{ data, error, response }`; queries and mutations want a
 * promise that rejects. `unwrap` turns an error answer into an {@link ApiError}
 * carrying the status and Chalice's `{"Code","Message"}`, which `<ErrorAlert>`
 * shows in words.
 */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly requestId: string | null;

  constructor(status: number, code: string, message: string, requestId: string | null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
}

function describe(status: number, body: unknown): { code: string; message: string } {
  if (typeof body === "object" && body !== null) {
    const b = body as Record<string, unknown>;
    if (typeof b.Message === "string") return { code: typeof b.Code === "string" ? b.Code : String(status), message: b.Message };
  }
  const generic: Record<number, string> = {
    401: "Your session has ended. Please log in again.",
    403: "You are not allowed to do this.",
    404: "Not found.",
    429: "Too many requests. Please wait a moment and try again.",
  };
  return { code: String(status), message: generic[status] ?? `The server answered ${status}.` };
}

/** The data of a successful answer, or an {@link ApiError} thrown for an error answer. */
export async function unwrap<D>(call: Promise<{ data?: D; error?: unknown; response: Response }>): Promise<D> {
  const { data, error, response } = await call;
  if (response.ok) return data as D;
  const { code, message } = describe(response.status, error);
  throw new ApiError(response.status, code, message, response.headers.get("X-Request-Id"));
}

/** A sentence for any error a query or mutation may reject with. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof TypeError) return "The server could not be reached. Check your connection and try again.";
  if (error instanceof Error) return error.message;
  return "Something went wrong.";
}
