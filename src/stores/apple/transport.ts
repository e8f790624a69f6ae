// One HTTP exchange with Apple, with the retry policy of §8:
// - every body is checked for `errorNumber`, whatever the HTTP status (9622 arrives with HTTP 200);
// - 429/9646 and every 5xx honour Retry-After (seconds or an HTTP date); without it, exponential
//   backoff with jitter, a bounded number of attempts; a 429 or a Retry-After pauses the token's
//   limiter so that every caller of that token backs off, not only the refused one;
// - reads are retried after timeouts and network errors; a write is NOT: a write whose outcome is
//   unknown is reported to the caller (isOutcomeUnknown) which checks Apple before sending again.
// The sToken only ever travels in the Authorization header (or the itvt cookie of the metadata
// lookup); it is never logged and is scrubbed from any text that ends up in an error.
import { performance } from "node:perf_hooks";
import {
  AppleApiError,
  AppleProtocolError,
  AppleTransportError,
  createAppleApiError,
  isOutcomeUnknown,
} from "./errors.ts";
import { readErrorBody } from "./parse.ts";
import { type AppleRateLimiter, sleep } from "./rate-limiter.ts";

export interface AppleLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const silentLogger: AppleLogger = { debug() {}, info() {}, warn() {}, error() {} };

export interface AppleRetryPolicy {
  /** Attempts per request, the first included. */
  maxAttempts: number;
  /** First backoff delay; later ones grow by `factor` up to `maxDelayMs`, each with jitter (50–100 %). */
  baseDelayMs: number;
  factor: number;
  maxDelayMs: number;
  /** A Retry-After longer than this is not waited for: the error goes to the caller (it can reschedule). */
  maxRetryAfterMs: number;
}

export const defaultRetryPolicy: AppleRetryPolicy = {
  maxAttempts: 6,
  baseDelayMs: 1000,
  factor: 3,
  maxDelayMs: 60_000,
  maxRetryAfterMs: 300_000,
};

export type QueryValue = string | number | boolean | undefined;

export interface AppleRequest {
  method: "GET" | "POST";
  url: string;
  /** "GET /assets": what logs and errors show; no query values, no secrets. */
  endpoint: string;
  query?: Record<string, QueryValue>;
  body?: unknown;
  /** Bearer sToken. */
  bearer?: string;
  cookie?: string;
  /** Non-idempotent: never re-sent automatically once it may have reached Apple. */
  write?: boolean;
  limiter?: AppleRateLimiter;
  tokenTag?: string;
  signal?: AbortSignal;
}

export interface AppleResponse {
  status: number;
  body: unknown;
}

export interface AppleTransport {
  send(request: AppleRequest): Promise<AppleResponse>;
}

export interface AppleTransportOptions {
  requestTimeoutMs: number;
  retry: AppleRetryPolicy;
  logger: AppleLogger;
  userAgent?: string;
}

/** Seconds from a Retry-After header (delta-seconds or an HTTP date), or undefined. */
export function parseRetryAfter(value: string | null, nowMs = Date.now()): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - nowMs) / 1000);
}

export function backoffDelayMs(policy: AppleRetryPolicy, attempt: number, random = Math.random): number {
  const raw = Math.min(policy.maxDelayMs, policy.baseDelayMs * policy.factor ** (attempt - 1));
  return Math.round(raw * (0.5 + random() / 2));
}

function buildUrl(url: string, query: Record<string, QueryValue> | undefined): string {
  if (!query) return url;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  const qs = params.toString();
  return qs ? `${url}${url.includes("?") ? "&" : "?"}${qs}` : url;
}

const neverSentCodes = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT",
]);

function transportErrorOf(request: AppleRequest, error: unknown, timedOut: boolean): AppleTransportError {
  if (timedOut)
    return new AppleTransportError({
      method: request.method,
      endpoint: request.endpoint,
      kind: "timeout",
      maybeSent: true,
    });
  const cause = (error as { cause?: { code?: string } })?.cause;
  const code = cause?.code ?? (error as { code?: string })?.code;
  const maybeSent = !(code && neverSentCodes.has(code));
  return new AppleTransportError({
    method: request.method,
    endpoint: request.endpoint,
    kind: "network",
    maybeSent,
    cause: code ? { code } : undefined,
  });
}

export function createAppleTransport(options: AppleTransportOptions): AppleTransport {
  const { logger, retry } = options;

  async function attempt(request: AppleRequest): Promise<AppleResponse> {
    const headers: Record<string, string> = {
      accept: "application/json",
      "user-agent": options.userAgent ?? "Allot",
    };
    if (request.bearer !== undefined) headers.authorization = `Bearer ${request.bearer}`;
    if (request.cookie !== undefined) headers.cookie = request.cookie;
    let payload: string | undefined;
    if (request.method === "POST") {
      headers["content-type"] = "application/json";
      payload = request.body === undefined ? undefined : JSON.stringify(request.body);
    }
    const timeout = AbortSignal.timeout(options.requestTimeoutMs);
    const signal = request.signal ? AbortSignal.any([timeout, request.signal]) : timeout;
    let res: Response;
    let text: string;
    try {
      res = await fetch(buildUrl(request.url, request.query), {
        method: request.method,
        headers,
        body: payload,
        signal,
        redirect: "error",
      });
      text = await res.text();
    } catch (error) {
      if (request.signal?.aborted) throw request.signal.reason;
      throw transportErrorOf(request, error, timeout.aborted);
    }
    let body: unknown;
    if (text.trim() !== "") {
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
        if (res.ok)
          throw new AppleProtocolError(request.endpoint, `HTTP ${res.status} with a body that is not JSON`);
      }
    }
    const retryAfter = parseRetryAfter(res.headers.get("retry-after"));
    const apple = readErrorBody(body);
    if (apple) {
      const message = request.bearer
        ? apple.errorMessage.split(request.bearer).join("[redacted]")
        : apple.errorMessage;
      throw createAppleApiError({
        method: request.method,
        endpoint: request.endpoint,
        status: res.status,
        errorNumber: apple.errorNumber,
        errorMessage: message,
        errorInfo: apple.errorInfo,
        retryAfter,
      });
    }
    if (!res.ok) {
      // A 5xx without Apple's error body came from something in front of Apple (a gateway): a write
      // may have gone through behind it.
      throw new AppleApiError({
        method: request.method,
        endpoint: request.endpoint,
        status: res.status,
        retryAfter,
        outcomeUnknown: request.write === true && res.status >= 500,
      });
    }
    return { status: res.status, body: body ?? {} };
  }

  return {
    async send(request) {
      for (let n = 1; ; n++) {
        await request.limiter?.acquire(request.signal);
        const started = performance.now();
        try {
          const response = await attempt(request);
          logger.debug(
            {
              endpoint: request.endpoint,
              token: request.tokenTag,
              status: response.status,
              attempt: n,
              ms: Math.round(performance.now() - started),
            },
            "apple request",
          );
          return response;
        } catch (error) {
          const retryable =
            (error instanceof AppleApiError && error.isRetryable && !error.outcomeUnknown) ||
            (error instanceof AppleTransportError && !(request.write && isOutcomeUnknown(error)));
          if (!retryable || n >= retry.maxAttempts) throw error;
          const retryAfterMs =
            error instanceof AppleApiError && error.retryAfter !== undefined
              ? error.retryAfter * 1000
              : undefined;
          if (retryAfterMs !== undefined && retryAfterMs > retry.maxRetryAfterMs) throw error;
          const delay = retryAfterMs ?? backoffDelayMs(retry, n);
          // Apple counts requests per token: after a 429 (or when told when to come back) every caller
          // of the token waits, otherwise the others would keep the block alive.
          const pauseToken =
            request.limiter !== undefined &&
            error instanceof AppleApiError &&
            (error.isRateLimited || retryAfterMs !== undefined);
          if (pauseToken) request.limiter?.pauseUntil(performance.now() + delay);
          logger.warn(
            {
              endpoint: request.endpoint,
              token: request.tokenTag,
              attempt: n,
              delayMs: delay,
              status: error instanceof AppleApiError ? error.status : undefined,
              errorNumber: error instanceof AppleApiError ? error.errorNumber : undefined,
              reason: error instanceof AppleTransportError ? error.kind : undefined,
            },
            "apple request failed; retrying",
          );
          // When the limiter is paused, the next acquire() does the waiting.
          if (!pauseToken) await sleep(delay, request.signal);
        }
      }
    },
  };
}
