// The console's one way to call Allot: same-origin fetch with the session cookie, the CSRF header on
// writes, Graph error bodies turned into ApiError, OData paging/$count helpers and CSV downloads.

/** A failed API call: `code` and `message` come from the Graph error body when there is one. */
export class ApiError extends Error {
  status: number;
  code: string;
  requestId?: string;
  details?: unknown;
  constructor(status: number, code: string, message: string, requestId?: string, details?: unknown) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.requestId = requestId;
    this.details = details;
  }
}

/** Called on every 401 so the app can send the administrator back to sign-in. */
let onUnauthorized: (() => void) | undefined;
export function setUnauthorizedHandler(fn: (() => void) | undefined) {
  onUnauthorized = fn;
}

let csrfToken: string | null = null;
/** The session's CSRF token (from /auth/login or /auth/session); also read from the allot_csrf cookie. */
export function setCsrfToken(token: string | null) {
  csrfToken = token;
}
function currentCsrf(): string | null {
  if (csrfToken) return csrfToken;
  const m = /(?:^|;\s*)allot_csrf=([^;]*)/.exec(document.cookie);
  return m ? decodeURIComponent(m[1]) : null;
}

export interface RequestOptions {
  method?: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Don't call the 401 handler (sign-in itself, the initial session probe). */
  quiet401?: boolean;
}

async function send(path: string, opts: RequestOptions = {}): Promise<Response> {
  const method = opts.method ?? "GET";
  const headers: Record<string, string> = { accept: "application/json", ...opts.headers };
  let body: BodyInit | undefined;
  if (opts.body !== undefined) {
    if (typeof opts.body === "string" || opts.body instanceof Blob || opts.body instanceof FormData)
      body = opts.body as BodyInit;
    else {
      body = JSON.stringify(opts.body);
      headers["content-type"] ??= "application/json";
    }
  }
  if (method !== "GET") {
    const csrf = currentCsrf();
    if (csrf) headers["x-csrf-token"] = csrf;
  }
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body, credentials: "same-origin", signal: opts.signal });
  } catch (err) {
    if ((err as Error).name === "AbortError") throw err;
    throw new ApiError(
      0,
      "networkError",
      "Allot could not be reached. Check that the server is running and your network connection, then try again.",
    );
  }
  if (!res.ok) {
    if (res.status === 401 && !opts.quiet401) onUnauthorized?.();
    throw await toApiError(res);
  }
  return res;
}

async function toApiError(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => "");
  try {
    const b = JSON.parse(text) as {
      error?: { code?: string; message?: string; details?: unknown; innerError?: { "request-id"?: string } };
    };
    if (b.error?.message)
      return new ApiError(
        res.status,
        b.error.code ?? "error",
        b.error.message,
        b.error.innerError?.["request-id"],
        b.error.details,
      );
  } catch {
    // not JSON: fall through to a generic message
  }
  return new ApiError(
    res.status,
    `http${res.status}`,
    `The request failed with HTTP ${res.status} ${res.statusText}.`,
  );
}

/** JSON request; 204 gives undefined. */
export async function api<T = unknown>(path: string, opts: RequestOptions = {}): Promise<T> {
  const res = await send(path, opts);
  if (res.status === 204) return undefined as T;
  const type = res.headers.get("content-type") ?? "";
  return (type.includes("json") ? await res.json() : await res.text()) as T;
}

export interface ODataPage<T> {
  value: T[];
  "@odata.nextLink"?: string;
  "@odata.count"?: number;
}

/** Build a path with OData query options ($filter, $top, $orderby, $count, …); undefined values are left out. */
export function odataPath(
  path: string,
  query: Record<string, string | number | boolean | undefined>,
): string {
  const qs = Object.entries(query)
    .filter(([, v]) => v !== undefined && v !== "")
    .map(([k, v]) => `${encodeURIComponent(k).replace(/^%24/, "$")}=${encodeURIComponent(String(v))}`)
    .join("&");
  return qs ? `${path}${path.includes("?") ? "&" : "?"}${qs}` : path;
}

/** One page. `@odata.nextLink` is absolute; pass it back as `path` to get the next page. */
export async function getPage<T>(
  path: string,
  opts: { count?: boolean; signal?: AbortSignal } = {},
): Promise<ODataPage<T>> {
  const url = path.startsWith("http") ? new URL(path).pathname + new URL(path).search : path;
  // $count needs ConsistencyLevel: eventual, as in Graph.
  const headers = opts.count ? { ConsistencyLevel: "eventual" } : undefined;
  return api<ODataPage<T>>(url, { headers, signal: opts.signal });
}

/** Every item of a collection, following `@odata.nextLink` (stop at `limit` items). */
export async function getAll<T>(
  path: string,
  opts: { limit?: number; signal?: AbortSignal } = {},
): Promise<T[]> {
  const out: T[] = [];
  let next: string | undefined = path;
  while (next && out.length < (opts.limit ?? Number.POSITIVE_INFINITY)) {
    const page: ODataPage<T> = await getPage<T>(next, { signal: opts.signal });
    out.push(...page.value);
    next = page["@odata.nextLink"];
  }
  return opts.limit ? out.slice(0, opts.limit) : out;
}

/** The size of a collection ($count=true&$top=1 with ConsistencyLevel: eventual). */
export async function getCount(path: string, filter?: string): Promise<number> {
  const page = await getPage<unknown>(odataPath(path, { $count: "true", $top: 1, $filter: filter }), {
    count: true,
  });
  return page["@odata.count"] ?? page.value.length;
}

/** Download a CSV from the API (an export route) as a file; errors are ApiErrors like any call. */
export async function downloadCsv(path: string, fileName: string): Promise<void> {
  const res = await send(path, { headers: { accept: "text/csv" } });
  saveBlob(await res.blob(), fileName);
}

/** Make a CSV in the browser from rows (for tables with no export route) and download it. */
export function downloadRowsAsCsv(
  rows: readonly Record<string, unknown>[],
  columns: readonly { key: string; header: string }[],
  fileName: string,
) {
  const cell = (v: unknown) => {
    const s = v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  const lines = [
    columns.map((c) => cell(c.header)).join(","),
    ...rows.map((r) => columns.map((c) => cell(r[c.key])).join(",")),
  ];
  saveBlob(new Blob([`${lines.join("\r\n")}\r\n`], { type: "text/csv;charset=utf-8" }), fileName);
}

function saveBlob(blob: Blob, fileName: string) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
