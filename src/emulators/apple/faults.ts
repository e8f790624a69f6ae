// Injectable faults (POST /_emulator/faults). Counters are consumed as the faults fire, so
// GET /_emulator/faults shows what is still armed.
import type { Random } from "./prng.ts";

export interface FailNextSpec {
  status: number;
  errorNumber: number;
  /** Seconds, sent as `Retry-After`. */
  retryAfter?: number;
  /** How many requests in a row get this answer (default 1). */
  count: number;
  /** Only requests whose path (after /mdm/v2, e.g. "/assets/associate") starts with this. */
  path?: string;
  /** Only requests with this HTTP method. */
  method?: string;
}

/**
 * A notification fault: `true` applies to every notification, an integer n ≥ 1 to the next n,
 * a fraction 0 < p < 1 to each notification with probability p (seeded).
 */
export type FaultAmount = boolean | number;

export interface NotificationFaults {
  drop?: FaultAmount;
  duplicate?: FaultAmount;
  reorder?: FaultAmount;
  /** Extra delay before each delivery. */
  delayMs?: number;
}

export interface TaskFailureSpec {
  errorNumber: number;
  count: number;
}

export interface Faults {
  rateLimitRps?: number;
  latencyMs?: number;
  failNext: FailNextSpec[];
  notifications: NotificationFaults;
  /** The next `count` asynchronous tasks fail with `errorNumber` (e.g. 9603, 9644). */
  taskFailures: TaskFailureSpec[];
}

export function emptyFaults(): Faults {
  return { failNext: [], notifications: {}, taskFailures: [] };
}

export class FaultInputError extends Error {}

function amount(value: unknown, name: string): FaultAmount | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "boolean") return value;
  if (typeof value === "number" && Number.isFinite(value) && value >= 0) return value;
  throw new FaultInputError(`notifications.${name} must be a boolean or a non-negative number`);
}

function nonNegative(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "number" && Number.isFinite(value) && value >= 0) return value;
  throw new FaultInputError(`${name} must be a non-negative number`);
}

/** Applies a POST /_emulator/faults body: the keys it names replace the current ones. */
export function applyFaults(current: Faults, body: unknown): Faults {
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw new FaultInputError("body must be an object");
  const b = body as Record<string, unknown>;
  const next: Faults = {
    ...current,
    failNext: [...current.failNext],
    notifications: { ...current.notifications },
    taskFailures: [...current.taskFailures],
  };
  if ("rateLimitRps" in b) next.rateLimitRps = nonNegative(b.rateLimitRps, "rateLimitRps");
  if ("latencyMs" in b) next.latencyMs = nonNegative(b.latencyMs, "latencyMs");
  if ("failNext" in b) {
    if (!Array.isArray(b.failNext)) throw new FaultInputError("failNext must be an array");
    next.failNext = b.failNext.map((f, i) => {
      if (typeof f !== "object" || f === null) throw new FaultInputError(`failNext[${i}] must be an object`);
      const e = f as Record<string, unknown>;
      const status = e.status;
      if (typeof status !== "number" || !Number.isInteger(status) || status < 100 || status > 599)
        throw new FaultInputError(`failNext[${i}].status must be an HTTP status`);
      if (typeof e.errorNumber !== "number" || !Number.isInteger(e.errorNumber))
        throw new FaultInputError(`failNext[${i}].errorNumber must be an integer`);
      const count = e.count === undefined ? 1 : e.count;
      if (typeof count !== "number" || !Number.isInteger(count) || count < 1)
        throw new FaultInputError(`failNext[${i}].count must be a positive integer`);
      const spec: FailNextSpec = { status, errorNumber: e.errorNumber, count };
      const retryAfter = nonNegative(e.retryAfter, `failNext[${i}].retryAfter`);
      if (retryAfter !== undefined) spec.retryAfter = retryAfter;
      if (typeof e.path === "string") spec.path = e.path;
      if (typeof e.method === "string") spec.method = e.method.toUpperCase();
      return spec;
    });
  }
  if ("notifications" in b) {
    const n = b.notifications;
    if (typeof n !== "object" || n === null) throw new FaultInputError("notifications must be an object");
    const nf = n as Record<string, unknown>;
    next.notifications = {
      drop: amount(nf.drop, "drop"),
      duplicate: amount(nf.duplicate, "duplicate"),
      reorder: amount(nf.reorder, "reorder"),
      delayMs: nonNegative(nf.delayMs, "notifications.delayMs"),
    };
    for (const k of Object.keys(next.notifications) as (keyof NotificationFaults)[])
      if (next.notifications[k] === undefined) delete next.notifications[k];
  }
  if ("taskFailures" in b) {
    if (!Array.isArray(b.taskFailures)) throw new FaultInputError("taskFailures must be an array");
    next.taskFailures = b.taskFailures.map((f, i) => {
      const e = (f ?? {}) as Record<string, unknown>;
      if (typeof e.errorNumber !== "number" || !Number.isInteger(e.errorNumber))
        throw new FaultInputError(`taskFailures[${i}].errorNumber must be an integer`);
      const count = e.count === undefined ? 1 : e.count;
      if (typeof count !== "number" || !Number.isInteger(count) || count < 1)
        throw new FaultInputError(`taskFailures[${i}].count must be a positive integer`);
      return { errorNumber: e.errorNumber, count };
    });
  }
  return next;
}

/** Decides whether a notification fault fires now, consuming a counted one. */
export function fires(
  faults: NotificationFaults,
  kind: "drop" | "duplicate" | "reorder",
  random: Random,
): boolean {
  const v = faults[kind];
  if (v === undefined || v === false || v === 0) return false;
  if (v === true) return true;
  if (v > 0 && v < 1) return random.float() < v;
  const left = Math.floor(v) - 1;
  if (left > 0) faults[kind] = left;
  else delete faults[kind];
  return true;
}

/** The first armed failNext entry matching this request, consumed. */
export function takeFailNext(faults: Faults, path: string, method: string): FailNextSpec | undefined {
  const i = faults.failNext.findIndex(
    (f) => (!f.path || path.startsWith(f.path)) && (!f.method || f.method === method),
  );
  if (i < 0) return undefined;
  const f = faults.failNext[i];
  f.count--;
  if (f.count <= 0) faults.failNext.splice(i, 1);
  return f;
}

/** The next injected asynchronous task failure, consumed. */
export function takeTaskFailure(faults: Faults): number | undefined {
  const f = faults.taskFailures[0];
  if (!f) return undefined;
  f.count--;
  if (f.count <= 0) faults.taskFailures.shift();
  return f.errorNumber;
}
