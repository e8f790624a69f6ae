// One rate limiter per Apple token for the whole process (§8: `maxRequestPerSecond` counts every
// request of a location/sToken). The registry is keyed by a SHA-256 of the token, never the token.
//
// The limiter spaces requests 1/rate apart (plus 2 %, so that network jitter cannot squeeze one
// more into Apple's second) instead of allowing bursts: in any one-second window at most `rate`
// requests leave, so Apple's own bucket never empties because of us. A pause (after a 429 or a
// Retry-After) holds back every caller of that token, not only the one that was refused.
import { createHash } from "node:crypto";
import { performance } from "node:perf_hooks";

export function hashSToken(sToken: string): string {
  return createHash("sha256").update(sToken.trim()).digest("hex");
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

const SPACING_MARGIN = 1.02;

export class AppleRateLimiter {
  #rate: number;
  #next = 0;
  #pausedUntil = 0;
  #departures: number[] = [];

  constructor(requestsPerSecond: number) {
    this.#rate = Math.max(requestsPerSecond, 0.001);
  }

  get rate(): number {
    return this.#rate;
  }

  setRate(requestsPerSecond: number): void {
    if (Number.isFinite(requestsPerSecond) && requestsPerSecond > 0) this.#rate = requestsPerSecond;
  }

  /** Holds back every request of this token until `performance.now()` reaches `until`. */
  pauseUntil(until: number): void {
    if (until > this.#pausedUntil) this.#pausedUntil = until;
  }

  get pausedForMs(): number {
    return Math.max(0, this.#pausedUntil - performance.now());
  }

  #reserve(): number {
    const slot = Math.max(performance.now(), this.#next, this.#pausedUntil);
    this.#next = slot + (1000 / this.#rate) * SPACING_MARGIN;
    return slot;
  }

  /** Resolves when this caller may send one request. Slots are handed out in call order. */
  async acquire(signal?: AbortSignal): Promise<void> {
    let slot = this.#reserve();
    for (;;) {
      const now = performance.now();
      // Timers may fire a fraction of a millisecond early; never leave before the slot.
      if (now < slot) {
        await sleep(Math.ceil(slot - now), signal);
        continue;
      }
      // A pause that began while this caller waited applies to it too: a new place after the pause.
      if (now < this.#pausedUntil) {
        slot = this.#reserve();
        continue;
      }
      // A timer that fired late must not let later ones bunch up: at most floor(rate) departures in
      // any 1000 ms, measured on the departures themselves.
      const cap = Math.floor(this.#rate);
      if (cap >= 1 && this.#departures.length >= cap) {
        const free = this.#departures[this.#departures.length - cap] + 1000 * SPACING_MARGIN;
        if (now < free) {
          await sleep(Math.ceil(free - now), signal);
          continue;
        }
      }
      this.#departures.push(now);
      const keep = Math.max(cap, 1);
      if (this.#departures.length > keep) this.#departures.splice(0, this.#departures.length - keep);
      return;
    }
  }
}

const registry = new Map<string, AppleRateLimiter>();

/** The process-wide limiter of one token (by its hash), created at `rate` the first time. */
export function rateLimiterFor(tokenHash: string, rate: number): AppleRateLimiter {
  let limiter = registry.get(tokenHash);
  if (!limiter) {
    limiter = new AppleRateLimiter(rate);
    registry.set(tokenHash, limiter);
  }
  return limiter;
}
