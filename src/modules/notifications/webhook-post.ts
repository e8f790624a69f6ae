// Signed webhook POSTs (EUX-3, MDM-1): the body is signed with HMAC-SHA256 under the subscription's
// secret; receivers verify `X-Allot-Signature: sha256=<hex>` over the raw body.
import { createHmac } from "node:crypto";

export const SIGNATURE_HEADER = "x-allot-signature";

export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac("sha256", secret).update(body, "utf8").digest("hex")}`;
}

export interface PostResult {
  ok: boolean;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

/** POSTs JSON; any 2xx is success. Never throws. */
export async function postSigned(
  url: string,
  body: string,
  opts: { secret: string | null; headers?: Record<string, string>; timeoutMs?: number },
): Promise<PostResult> {
  const started = Date.now();
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "user-agent": "Allot",
    ...(opts.headers ?? {}),
  };
  if (opts.secret) headers[SIGNATURE_HEADER] = signBody(body, opts.secret);
  try {
    const res = await fetch(url, {
      method: "POST",
      headers,
      body,
      signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
    });
    await res.arrayBuffer().catch(() => undefined);
    return {
      ok: res.ok,
      statusCode: res.status,
      error: res.ok ? null : `HTTP ${res.status}`,
      durationMs: Date.now() - started,
    };
  } catch (err) {
    return {
      ok: false,
      statusCode: null,
      error: err instanceof Error ? err.message : String(err),
      durationMs: Date.now() - started,
    };
  }
}

/** Delay before attempt `attempt + 1` after `attempt` failed: base · 2^(attempt−1), capped at an hour. */
export function backoffMs(baseMs: number, attempt: number): number {
  return Math.min(baseMs * 2 ** Math.max(0, attempt - 1), 3_600_000);
}
