// Notification delivery (reference §10): HTTPS POST of {notification, notificationId,
// notificationType, uId} with `Authorization: Bearer <notificationAuthToken>`; any 2xx is delivered;
// up to `notificationAttempts` attempts with tripling back-off; one queue per location so order is
// kept unless a fault says otherwise; drop / duplicate / reorder / delay faults.
import http from "node:http";
import https from "node:https";
import { rootCertificates } from "node:tls";
import { type Faults, fires } from "./faults.ts";
import type { ResolvedOptions } from "./options.ts";
import type { Random } from "./prng.ts";
import type { Location } from "./state.ts";

export type DeliveryOutcome = "delivered" | "failed" | "gave-up" | "dropped" | "no-url";

export interface DeliveryRecord {
  notificationId: string;
  notificationType: string;
  attempt: number;
  outcome: DeliveryOutcome;
  status?: number;
  error?: string;
  duplicate?: boolean;
  at: string;
}

interface Pending {
  location: Location;
  id: string;
  type: string;
  body: string;
  attempt: number;
  notBefore: number;
  duplicate: boolean;
}

interface Queue {
  items: Pending[];
  running: boolean;
  held?: { pending: Pending; timer: NodeJS.Timeout };
}

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\]|::1|localhost)$/i;

/** Apple accepts only https; the emulator also accepts http on loopback unless strictHttps. */
export function notificationUrlAllowed(text: string, strictHttps: boolean): boolean {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  // "host and path only": no credentials, query or fragment.
  if (url.username || url.password || url.search || url.hash) return false;
  if (url.protocol === "https:") return true;
  return url.protocol === "http:" && !strictHttps && LOOPBACK.test(url.hostname);
}

const LOG_LIMIT = 10_000;

export class Notifier {
  private readonly options: ResolvedOptions;
  private readonly ids: Random;
  private readonly faultRandom: Random;
  private readonly faults: () => Faults;
  private readonly queues = new Map<string, Queue>();
  private readonly logs = new Map<string, DeliveryRecord[]>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly requests = new Set<http.ClientRequest>();
  private active = 0;
  private waiters: (() => void)[] = [];
  private closed = false;
  private readonly ca?: string[];

  constructor(options: ResolvedOptions, ids: Random, faultRandom: Random, faults: () => Faults) {
    this.options = options;
    this.ids = ids;
    this.faultRandom = faultRandom;
    this.faults = faults;
    if (options.notificationCa) {
      const extra = Array.isArray(options.notificationCa) ? options.notificationCa : [options.notificationCa];
      this.ca = [...rootCertificates, ...extra];
    }
  }

  /** Queues a notification for a location if it has a URL and subscribed to `type`. */
  notify(location: Location, type: string, notification: unknown): void {
    if (this.closed) return;
    if (!location.subscribedTypes.includes(type)) return;
    const id = this.ids.uuid();
    if (!location.notificationUrl) {
      this.record(location.uId, {
        notificationId: id,
        notificationType: type,
        attempt: 0,
        outcome: "no-url",
      });
      return;
    }
    const body = JSON.stringify({
      notification,
      notificationId: id,
      notificationType: type,
      uId: location.uId,
    });
    const nf = this.faults().notifications;
    if (fires(nf, "drop", this.faultRandom)) {
      this.record(location.uId, {
        notificationId: id,
        notificationType: type,
        attempt: 0,
        outcome: "dropped",
      });
      return;
    }
    const pending: Pending = {
      location,
      id,
      type,
      body,
      attempt: 1,
      notBefore: this.options.now() + (nf.delayMs ?? 0),
      duplicate: false,
    };
    const duplicate = fires(nf, "duplicate", this.faultRandom);
    const queue = this.queue(location.uId);
    const held = queue.held;
    if (held) {
      // A notification was held back by `reorder`: this one overtakes it.
      clearTimeout(held.timer);
      this.timers.delete(held.timer);
      queue.held = undefined;
      this.enqueue(pending);
      if (duplicate) this.enqueue({ ...pending, duplicate: true });
      this.enqueue(held.pending);
      this.done();
      return;
    }
    if (fires(nf, "reorder", this.faultRandom)) {
      this.active++;
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        if (queue.held?.pending === pending) {
          queue.held = undefined;
          this.enqueue(pending);
          this.done();
        }
      }, this.options.reorderWindowMs);
      this.timers.add(timer);
      queue.held = { pending, timer };
      if (duplicate) this.enqueue({ ...pending, duplicate: true });
      return;
    }
    this.enqueue(pending);
    if (duplicate) this.enqueue({ ...pending, duplicate: true });
  }

  /** TEST_NOTIFICATION during POST /client/config: one attempt, true when answered 2xx. */
  async sendTest(uId: string, url: string, authToken: string): Promise<boolean> {
    const id = this.ids.uuid();
    const body = JSON.stringify({
      notification: {},
      notificationId: id,
      notificationType: "TEST_NOTIFICATION",
      uId,
    });
    const result = await this.post(url, authToken, body);
    this.record(uId, {
      notificationId: id,
      notificationType: "TEST_NOTIFICATION",
      attempt: 1,
      outcome:
        result.status !== undefined && result.status >= 200 && result.status < 300 ? "delivered" : "failed",
      status: result.status,
      error: result.error,
    });
    return result.status !== undefined && result.status >= 200 && result.status < 300;
  }

  deliveries(uId: string): DeliveryRecord[] {
    return this.logs.get(uId) ?? [];
  }

  /** Resolves when nothing is queued, held, in flight or waiting for a retry. */
  idle(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const r of this.requests) r.destroy();
    this.requests.clear();
    this.queues.clear();
    this.active = 0;
    for (const w of this.waiters.splice(0)) w();
  }

  private queue(uId: string): Queue {
    let q = this.queues.get(uId);
    if (!q) {
      q = { items: [], running: false };
      this.queues.set(uId, q);
    }
    return q;
  }

  private enqueue(p: Pending): void {
    if (this.closed) return;
    this.active++;
    const q = this.queue(p.location.uId);
    q.items.push(p);
    if (!q.running) void this.run(q);
  }

  private done(): void {
    this.active--;
    if (this.active <= 0) {
      this.active = 0;
      for (const w of this.waiters.splice(0)) w();
    }
  }

  private async run(q: Queue): Promise<void> {
    q.running = true;
    while (q.items.length > 0 && !this.closed) {
      const p = q.items.shift()!;
      const wait = p.notBefore - this.options.now();
      if (wait > 0) await this.sleep(wait);
      if (this.closed) break;
      await this.attempt(p);
    }
    q.running = false;
  }

  private async attempt(p: Pending): Promise<void> {
    const loc = p.location;
    const url = loc.notificationUrl;
    const token = loc.notificationAuthToken;
    if (!url || !token || !loc.subscribedTypes.includes(p.type)) {
      this.record(loc.uId, {
        notificationId: p.id,
        notificationType: p.type,
        attempt: p.attempt,
        outcome: "no-url",
      });
      this.done();
      return;
    }
    const result = await this.post(url, token, p.body);
    const ok = result.status !== undefined && result.status >= 200 && result.status < 300;
    const last = p.attempt >= this.options.notificationAttempts;
    const record: Omit<DeliveryRecord, "at"> = {
      notificationId: p.id,
      notificationType: p.type,
      attempt: p.attempt,
      outcome: ok ? "delivered" : last ? "gave-up" : "failed",
    };
    if (result.status !== undefined) record.status = result.status;
    if (result.error) record.error = result.error;
    if (p.duplicate) record.duplicate = true;
    this.record(loc.uId, record);
    if (ok || last || this.closed) {
      this.done();
      return;
    }
    // Retry later without blocking the rest of the queue (so a retry may arrive after newer ones).
    const delay = this.options.notificationRetryMs * 3 ** (p.attempt - 1);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.enqueue({ ...p, attempt: p.attempt + 1, notBefore: 0 });
      this.done();
    }, delay);
    this.timers.add(timer);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }

  private post(
    target: string,
    authToken: string,
    body: string,
  ): Promise<{ status?: number; error?: string }> {
    return new Promise((resolve) => {
      let url: URL;
      try {
        url = new URL(target);
      } catch {
        resolve({ error: "invalid URL" });
        return;
      }
      const lib = url.protocol === "https:" ? https : http;
      const payload = Buffer.from(body);
      const req = lib.request(
        url,
        {
          method: "POST",
          headers: {
            Authorization: `Bearer ${authToken}`,
            "Content-Type": "application/json",
            "Content-Length": payload.length,
            "User-Agent": "Apple-VPP-Notification-Emulator",
          },
          timeout: this.options.notificationTimeoutMs,
          agent: false,
          ...(url.protocol === "https:" && this.ca ? { ca: this.ca } : {}),
        },
        (res) => {
          res.resume();
          res.on("end", () => {
            this.requests.delete(req);
            resolve({ status: res.statusCode });
          });
          res.on("error", () => {
            this.requests.delete(req);
            resolve({ status: res.statusCode });
          });
        },
      );
      this.requests.add(req);
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", (err) => {
        this.requests.delete(req);
        resolve({ error: err.message });
      });
      req.end(payload);
    });
  }

  private record(uId: string, r: Omit<DeliveryRecord, "at">): void {
    let log = this.logs.get(uId);
    if (!log) {
      log = [];
      this.logs.set(uId, log);
    }
    log.push({ ...r, at: new Date(this.options.now()).toISOString() });
    if (log.length > LOG_LIMIT) log.splice(0, log.length - LOG_LIMIT);
  }
}
