// Apple's notification bodies (§10): `{notification, notificationId, notificationType, uId}`.
// Parsing is strict about the members Allot acts on and lenient about the rest; a type Apple adds later
// comes back as `kind: "other"` with the raw payload so the caller can log and ignore it.
import { AppleProtocolError } from "./errors.ts";
import { isObject } from "./parse.ts";
import type { AppleAssignment, AppleSubscriptionAssignment, AppleUser, PricingParam } from "./types.ts";

export interface AppleNotificationError {
  errorNumber: number;
  errorMessage: string;
}

interface Base {
  notificationId: string;
  uId: string;
}

export type AppleNotification =
  | (Base & { notificationType: "TEST_NOTIFICATION" })
  | (Base & {
      notificationType: "ASSET_COUNT";
      adamId: string;
      pricingParam: PricingParam;
      countDelta: number;
    })
  | (Base & {
      notificationType: "ASSET_MANAGEMENT";
      eventId: string;
      type: "ASSOCIATE" | "DISASSOCIATE" | "REVOKE" | (string & {});
      result: "SUCCESS" | "FAILURE" | (string & {});
      assignments: AppleAssignment[];
      error?: AppleNotificationError;
    })
  | (Base & {
      notificationType: "USER_MANAGEMENT";
      eventId: string;
      type: "CREATE" | "UPDATE" | "RETIRE" | (string & {});
      result: "SUCCESS" | "FAILURE" | (string & {});
      users: AppleUser[];
      error?: AppleNotificationError;
    })
  | (Base & { notificationType: "USER_ASSOCIATED"; associatedUsers: AppleUser[] })
  | (Base & {
      notificationType: "SUBSCRIPTION_COUNT";
      parentAdamId: number;
      adamId: number;
      counts: {
        available: { renewing: number; expiring: number };
        total: { renewing: number; expiring: number };
      };
    })
  | (Base & {
      notificationType: "SUBSCRIPTION_MANAGEMENT";
      eventId: string;
      type: string;
      result: string;
      assignments: AppleSubscriptionAssignment[];
      error?: AppleNotificationError;
    })
  | (Base & { notificationType: "other"; originalType: string; payload: unknown });

const where = "notification";

function fail(problem: string): never {
  throw new AppleProtocolError(where, problem);
}

function str(o: Record<string, unknown>, key: string): string {
  const v = o[key];
  if (typeof v === "string") return v;
  if (typeof v === "number") return String(v);
  return fail(`${key} is missing`);
}

function optStr(o: Record<string, unknown>, key: string): string | undefined {
  const v = o[key];
  return typeof v === "string" ? v : typeof v === "number" ? String(v) : undefined;
}

function num(o: Record<string, unknown>, key: string): number {
  const v = o[key];
  if (typeof v === "number") return v;
  if (typeof v === "string" && /^-?\d+$/.test(v)) return Number(v);
  return fail(`${key} is missing or not a number`);
}

function list(o: Record<string, unknown>, key: string): Record<string, unknown>[] {
  const v = o[key] ?? [];
  if (!Array.isArray(v) || !v.every(isObject)) fail(`${key} is not a list of objects`);
  return v as Record<string, unknown>[];
}

function errorOf(o: Record<string, unknown>): AppleNotificationError | undefined {
  if (!isObject(o.error)) return undefined;
  return { errorNumber: num(o.error, "errorNumber"), errorMessage: optStr(o.error, "errorMessage") ?? "" };
}

function userOf(u: Record<string, unknown>): AppleUser {
  const user: AppleUser = { clientUserId: str(u, "clientUserId"), status: str(u, "status") };
  for (const key of ["email", "idHash", "inviteCode"] as const) {
    const v = optStr(u, key);
    if (v !== undefined) user[key] = v;
  }
  return user;
}

function assignmentOf(a: Record<string, unknown>): AppleAssignment {
  const out: AppleAssignment = {
    adamId: str(a, "adamId"),
    pricingParam: optStr(a, "pricingParam") ?? "STDQ",
  };
  const cu = optStr(a, "clientUserId");
  const sn = optStr(a, "serialNumber");
  if (cu !== undefined) out.clientUserId = cu;
  if (sn !== undefined) out.serialNumber = sn;
  if (cu === undefined && sn === undefined) fail("an assignment has neither clientUserId nor serialNumber");
  return out;
}

function withError<T extends object>(
  value: T,
  error: AppleNotificationError | undefined,
): T & { error?: AppleNotificationError } {
  return error ? { ...value, error } : value;
}

export function parseAppleNotification(body: unknown): AppleNotification {
  if (!isObject(body)) fail("the body is not an object");
  const base: Base = { notificationId: str(body, "notificationId"), uId: optStr(body, "uId") ?? "" };
  const type = str(body, "notificationType");
  const n = isObject(body.notification) ? body.notification : {};
  switch (type) {
    case "TEST_NOTIFICATION":
      return { ...base, notificationType: type };
    case "ASSET_COUNT":
      return {
        ...base,
        notificationType: type,
        adamId: str(n, "adamId"),
        pricingParam: optStr(n, "pricingParam") ?? "STDQ",
        countDelta: num(n, "countDelta"),
      };
    case "ASSET_MANAGEMENT":
      return withError(
        {
          ...base,
          notificationType: type,
          eventId: optStr(n, "eventId") ?? "",
          type: str(n, "type"),
          result: str(n, "result"),
          assignments: list(n, "assignments").map(assignmentOf),
        },
        errorOf(n),
      );
    case "USER_MANAGEMENT":
      return withError(
        {
          ...base,
          notificationType: type,
          eventId: optStr(n, "eventId") ?? "",
          type: str(n, "type"),
          result: str(n, "result"),
          users: list(n, "users").map(userOf),
        },
        errorOf(n),
      );
    case "USER_ASSOCIATED":
      return { ...base, notificationType: type, associatedUsers: list(n, "associatedUsers").map(userOf) };
    case "SUBSCRIPTION_COUNT": {
      const counts = isObject(n.counts) ? n.counts : {};
      const pair = (key: string) => {
        const p = isObject(counts[key]) ? (counts[key] as Record<string, unknown>) : {};
        return {
          renewing: typeof p.renewing === "number" ? p.renewing : 0,
          expiring: typeof p.expiring === "number" ? p.expiring : 0,
        };
      };
      return {
        ...base,
        notificationType: type,
        parentAdamId: num(n, "parentAdamId"),
        adamId: num(n, "adamId"),
        counts: { available: pair("available"), total: pair("total") },
      };
    }
    case "SUBSCRIPTION_MANAGEMENT":
      return withError(
        {
          ...base,
          notificationType: type,
          eventId: optStr(n, "eventId") ?? "",
          type: str(n, "type"),
          result: str(n, "result"),
          assignments: list(n, "assignments").map((a) => ({
            adamId: num(a, "adamId"),
            clientUserId: str(a, "clientUserId"),
            renewing: a.renewing === true,
          })),
        },
        errorOf(n),
      );
    default:
      return { ...base, notificationType: "other", originalType: type, payload: body.notification };
  }
}
