// Errors the Apple client throws. None of them ever carries the sToken: messages are built from the
// method, the path (never the query of an authenticated call's secret), Apple's errorNumber and message.
import type { AppleErrorInfo, AppleEventStatus, MdmInfo } from "./types.ts";

export type AppleTokenProblem = "expired" | "invalid" | "revoked";

/** errorNumbers that say the token itself is unusable (§1.4). 9622 arrives with HTTP 200 in production. */
const tokenProblems: Record<number, AppleTokenProblem> = {
  9601: "invalid",
  9621: "expired",
  9622: "invalid",
  9625: "revoked",
  9722: "invalid",
};

export function tokenProblemOf(errorNumber: number | undefined): AppleTokenProblem | undefined {
  return errorNumber === undefined ? undefined : tokenProblems[errorNumber];
}

/** errorNumbers that mean "try again later": too many requests, internal error, temporarily unavailable. */
const retryableNumbers = new Set([9646, 9603, 9729]);

export interface AppleApiErrorInit {
  method: string;
  endpoint: string;
  status: number;
  errorNumber?: number;
  errorMessage?: string;
  errorInfo?: AppleErrorInfo;
  /** Seconds, from Retry-After (delta-seconds or an HTTP date). */
  retryAfter?: number;
  /** A write that failed this way may still have been applied (e.g. a 502 from a gateway). */
  outcomeUnknown?: boolean;
}

/** Apple answered with an error body (any HTTP status) or a non-2xx status. */
export class AppleApiError extends Error {
  readonly method: string;
  readonly endpoint: string;
  readonly status: number;
  readonly errorNumber?: number;
  readonly errorMessage?: string;
  readonly errorInfo?: AppleErrorInfo;
  readonly retryAfter?: number;
  readonly outcomeUnknown: boolean;

  constructor(init: AppleApiErrorInit) {
    const what =
      init.errorNumber !== undefined
        ? `error ${init.errorNumber}${init.errorMessage ? ` (${init.errorMessage})` : ""}`
        : `HTTP ${init.status}`;
    super(`Apple ${init.method} ${init.endpoint} failed: ${what}`);
    this.name = "AppleApiError";
    this.method = init.method;
    this.endpoint = init.endpoint;
    this.status = init.status;
    this.errorNumber = init.errorNumber;
    this.errorMessage = init.errorMessage;
    this.errorInfo = init.errorInfo;
    this.retryAfter = init.retryAfter;
    this.outcomeUnknown = init.outcomeUnknown ?? false;
  }

  get tokenProblem(): AppleTokenProblem | undefined {
    return tokenProblemOf(this.errorNumber);
  }

  get isTokenError(): boolean {
    return this.tokenProblem !== undefined;
  }

  get isRateLimited(): boolean {
    return this.status === 429 || this.errorNumber === 9646;
  }

  /** Worth another attempt later: 429/9646, any 5xx, 9603, 9729. */
  get isRetryable(): boolean {
    return (
      this.status === 429 ||
      this.status >= 500 ||
      (this.errorNumber !== undefined && retryableNumbers.has(this.errorNumber))
    );
  }
}

/** The token is expired (9621), invalid or unknown (9622, 9601, 9722) or revoked (9625). */
export class AppleTokenError extends AppleApiError {
  readonly reason: AppleTokenProblem;

  constructor(init: AppleApiErrorInit & { errorNumber: number }) {
    super(init);
    this.name = "AppleTokenError";
    this.reason = tokenProblemOf(init.errorNumber) ?? "invalid";
  }
}

export function createAppleApiError(init: AppleApiErrorInit): AppleApiError {
  return tokenProblemOf(init.errorNumber) !== undefined
    ? new AppleTokenError(init as AppleApiErrorInit & { errorNumber: number })
    : new AppleApiError(init);
}

/** No answer: the connection failed or the request timed out. */
export class AppleTransportError extends Error {
  readonly method: string;
  readonly endpoint: string;
  readonly kind: "timeout" | "network";
  /** False only when the request certainly never reached Apple (connection refused, DNS failure). */
  readonly maybeSent: boolean;

  constructor(init: {
    method: string;
    endpoint: string;
    kind: "timeout" | "network";
    maybeSent: boolean;
    cause?: unknown;
  }) {
    super(
      `Apple ${init.method} ${init.endpoint} failed: ${init.kind === "timeout" ? "timed out" : "network error"}`,
      { cause: init.cause },
    );
    this.name = "AppleTransportError";
    this.method = init.method;
    this.endpoint = init.endpoint;
    this.kind = init.kind;
    this.maybeSent = init.maybeSent;
  }
}

/** Apple answered 2xx with a body the client cannot read as the documented shape. */
export class AppleProtocolError extends Error {
  readonly endpoint: string;

  constructor(endpoint: string, problem: string) {
    super(`Apple ${endpoint}: unexpected response (${problem})`);
    this.name = "AppleProtocolError";
    this.endpoint = endpoint;
  }
}

/** Another MDM set its mdmInfo on this token; writes stop until an administrator takes it back. */
export class AppleMdmConflictError extends Error {
  readonly current: MdmInfo | undefined;
  readonly expectedId: string;

  constructor(expectedId: string, current: MdmInfo | undefined) {
    super(
      `the Apple token is managed by another MDM${current ? ` ('${current.name}')` : ""}; writes are stopped`,
    );
    this.name = "AppleMdmConflictError";
    this.expectedId = expectedId;
    this.current = current;
  }
}

/** A paged walk kept seeing the data change under it (versionId moved) more often than allowed. */
export class AppleDataChangedError extends Error {
  readonly restarts: number;

  constructor(endpoint: string, restarts: number) {
    super(`Apple ${endpoint}: the data kept changing during the walk (${restarts} restarts)`);
    this.name = "AppleDataChangedError";
    this.restarts = restarts;
  }
}

/** waitForEvent gave up while the event was still PENDING. */
export class AppleEventTimeoutError extends Error {
  readonly lastStatus: AppleEventStatus;

  constructor(eventId: string, lastStatus: AppleEventStatus) {
    super(
      `Apple event ${eventId} still ${lastStatus.eventStatus} (${lastStatus.numCompleted}/${lastStatus.numRequested})`,
    );
    this.name = "AppleEventTimeoutError";
    this.lastStatus = lastStatus;
  }
}

/**
 * A chunked write stopped part-way. `completed` lists what Apple accepted before the failure (with
 * eventIds to follow); `cause` is the failure.
 */
export class AppleWriteError<R = unknown> extends Error {
  readonly completed: R;

  constructor(endpoint: string, completed: R, cause: unknown) {
    super(
      `Apple ${endpoint}: the write stopped part-way: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
    this.name = "AppleWriteError";
    this.completed = completed;
  }
}

/** The .vpptoken content is not a token (bad base64, bad JSON, missing fields). */
export class AppleTokenFormatError extends Error {
  constructor(problem: string) {
    super(`not an Apple content token: ${problem}`);
    this.name = "AppleTokenFormatError";
  }
}

export function isAppleTokenError(error: unknown): error is AppleTokenError {
  return error instanceof AppleTokenError;
}

/** A write whose outcome is unknown: it may or may not have been applied by Apple. */
export function isOutcomeUnknown(error: unknown): boolean {
  return (
    (error instanceof AppleTransportError && error.maybeSent) ||
    (error instanceof AppleApiError && error.outcomeUnknown)
  );
}
