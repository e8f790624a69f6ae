// Talking to Apple about a token (TOK-1, TOK-5): Allot's own mdmInfo, the notification URL, reading
// a token's location, claiming it, and turning Apple's failures into clear API errors. Nothing here
// touches the database.
import { createHmac } from "node:crypto";
import { AppError, badRequest } from "../../lib/errors.ts";
import {
  AppleApiError,
  type AppleClient,
  type AppleClientConfig,
  type AppleLogger,
  AppleMdmConflictError,
  AppleProtocolError,
  type AppleTokenClient,
  AppleTokenError,
  AppleTransportError,
  type MdmInfo,
} from "../../stores/apple/index.ts";

export const ALLOT_MDM_NAME = "Allot";
export const NOTIFICATION_TYPES = [
  "ASSET_MANAGEMENT",
  "USER_MANAGEMENT",
  "USER_ASSOCIATED",
  "ASSET_COUNT",
] as const;
/** Apple refused the notification endpoint (host/path/https rule, length, pairing, or the test delivery). */
const notificationEndpointErrors = new Set([9710, 9711, 9712, 9728]);

/** Allot's mdmInfo.id for a tenant: stable for this instance (derived from its key) and tenant. */
export function mdmIdFor(secretKey: Buffer, tenantId: string): string {
  return `allot-${createHmac("sha256", secretKey).update(`allot/mdm-id/${tenantId}`).digest("hex").slice(0, 40)}`;
}

export function mdmInfoFor(secretKey: Buffer, tenantId: string, publicUrl: string | undefined): MdmInfo {
  const host = publicUrl ? safeHost(publicUrl) : undefined;
  return {
    id: mdmIdFor(secretKey, tenantId),
    name: ALLOT_MDM_NAME,
    metadata: JSON.stringify({ product: "Allot", ...(host ? { host } : {}) }),
  };
}

function safeHost(url: string): string | undefined {
  try {
    return new URL(url).host;
  } catch {
    return undefined;
  }
}

const loopbackHosts = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

/** ALLOT_PUBLIC_URL + /notifications/apple/{tokenId} when Apple can be asked to call it (https, or loopback http). */
export function notificationUrlFor(publicUrl: string | undefined, tokenId: string): string | undefined {
  if (!publicUrl) return undefined;
  let base: URL;
  try {
    base = new URL(publicUrl);
  } catch {
    return undefined;
  }
  const ok = base.protocol === "https:" || (base.protocol === "http:" && loopbackHosts.test(base.hostname));
  if (!ok) return undefined;
  return `${base.origin}${base.pathname.replace(/\/+$/, "")}/notifications/apple/${tokenId}`;
}

export interface TokenInspection {
  /** Apple's location (library) id. */
  locationId: string;
  locationName: string | null;
  countryISO2ACode: string | null;
  defaultPlatform: string | null;
  mdmInfo: MdmInfo | undefined;
  expirationDate: string | null;
}

/** Reads the token's client config: which location it is, who manages it, when it expires. No write. */
export async function inspectToken(apple: AppleClient, sToken: string): Promise<TokenInspection> {
  const client = apple.forToken(sToken);
  let cfg: AppleClientConfig;
  try {
    cfg = await client.getClientConfig();
  } catch (error) {
    throw appleFailure(error);
  }
  if (!cfg.uId)
    throw new AppError(
      "failedDependency",
      "Apple's answer did not name the token's location (uId); nothing was saved.",
    );
  return {
    locationId: cfg.uId,
    locationName: cfg.locationName ?? null,
    countryISO2ACode: cfg.countryISO2ACode ?? null,
    defaultPlatform: cfg.defaultPlatform ?? null,
    mdmInfo: cfg.mdmInfo,
    expirationDate: cfg.tokenExpirationDate ?? client.tokenExpirationDate ?? null,
  };
}

/**
 * Sets Allot's mdmInfo on the token and, when `notification` is given, its notification endpoint
 * (Apple sends a TEST_NOTIFICATION to it during this request). When Apple refuses the endpoint the
 * claim is made without it, and the location's old endpoint is cleared: Allot then relies on
 * polling and scheduled syncs. Returns whether notifications are on.
 */
export async function claimToken(
  apple: AppleClient,
  sToken: string,
  mdmInfo: MdmInfo,
  notification: { url: string; secret: string } | undefined,
  logger: AppleLogger,
): Promise<{ notificationsEnabled: boolean; config: AppleClientConfig }> {
  const client = apple.forToken(sToken, { mdmId: mdmInfo.id });
  const attempts: Parameters<AppleTokenClient["setClientConfig"]>[0][] = [];
  if (notification)
    attempts.push({
      mdmInfo,
      notificationUrl: notification.url,
      notificationAuthToken: notification.secret,
      notificationTypes: [...NOTIFICATION_TYPES],
    });
  attempts.push({ mdmInfo, notificationUrl: "", notificationAuthToken: "" });
  attempts.push({ mdmInfo });
  for (let i = 0; i < attempts.length; i++) {
    const request = attempts[i];
    try {
      const config = await client.setClientConfig(request);
      return { notificationsEnabled: Boolean(request.notificationUrl), config };
    } catch (error) {
      const last = i === attempts.length - 1;
      // Apple refused the endpoint part (or clearing it): try again with less; the last attempt
      // (mdmInfo alone) reports anything else.
      const endpointRefused =
        error instanceof AppleApiError && !error.isTokenError && !error.isRetryable && error.status < 500;
      if (!last && endpointRefused) {
        const known = error.errorNumber !== undefined && notificationEndpointErrors.has(error.errorNumber);
        logger.warn(
          { errorNumber: error.errorNumber, known, withEndpoint: Boolean(request.notificationUrl) },
          "apple refused the notification endpoint; claiming the token without it",
        );
        continue;
      }
      throw appleFailure(error);
    }
  }
  throw new Error("unreachable");
}

const reasons: Record<string, string> = {
  expired: "has expired",
  revoked: "has been revoked (a newer token was downloaded for this location)",
  invalid: "is not valid (Apple does not know it)",
};

/** An Apple failure during upload or renewal, as the API error the administrator sees. Nothing was saved. */
export function appleFailure(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof AppleTokenError)
    return badRequest(
      `The VPP token ${reasons[error.reason] ?? "was refused"}: Apple answered error ${error.errorNumber}${error.errorMessage ? ` (${error.errorMessage})` : ""}. Download a new token in Apple Business Manager or Apple School Manager; nothing was saved.`,
    );
  if (error instanceof AppleApiError) {
    if (error.isRetryable)
      return new AppError(
        "serviceUnavailable",
        `Apple's service is unavailable (${error.errorNumber !== undefined ? `error ${error.errorNumber}` : `HTTP ${error.status}`}); nothing was saved. Try again later.`,
        {
          headers:
            error.retryAfter !== undefined
              ? { "Retry-After": String(Math.ceil(error.retryAfter)) }
              : undefined,
        },
      );
    return new AppError(
      "failedDependency",
      `Apple refused the request: ${error.message.replace(/^Apple /, "")}; nothing was saved.`,
    );
  }
  if (error instanceof AppleTransportError)
    return new AppError(
      "serviceUnavailable",
      "Apple's service could not be reached; nothing was saved. Try again later.",
    );
  if (error instanceof AppleProtocolError)
    return new AppError("failedDependency", "Apple's answer could not be read; nothing was saved.");
  if (error instanceof AppleMdmConflictError) return new AppError("conflict", error.message);
  return new AppError("internal", "Checking the token with Apple failed unexpectedly; nothing was saved.", {
    cause: error,
  });
}

/** Write methods of a token client: refused up front for a token another MDM manages. */
const writeMethods = new Set([
  "setClientConfig",
  "associateAssets",
  "disassociateAssets",
  "associatePairs",
  "disassociatePairs",
  "revokeAssets",
  "createUsers",
  "updateUsers",
  "retireUsers",
  "resumeWrite",
  "associateSubscriptions",
  "disassociateSubscriptions",
  "setSubscriptionManagement",
]);

/** The same client with every write refused (AppleMdmConflictError) before anything is sent. */
export function withoutWrites(
  client: AppleTokenClient,
  expectedMdmId: string,
  other: MdmInfo | undefined,
): AppleTokenClient {
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (typeof prop === "string" && writeMethods.has(prop))
        return () => Promise.reject(new AppleMdmConflictError(expectedMdmId, other));
      if (prop === "mdmConflict") return true;
      return Reflect.get(target, prop, receiver);
    },
  });
}

/** A logger whose target is set once the HTTP server (and its logger) exists. */
export function createSwitchableLogger(): AppleLogger & { use(target: AppleLogger): void } {
  let target: AppleLogger | undefined;
  return {
    use: (t) => {
      target = t;
    },
    debug: (o, m) => target?.debug(o, m),
    info: (o, m) => target?.info(o, m),
    warn: (o, m) => target?.warn(o, m),
    error: (o, m) => target?.error(o, m),
  };
}
