// Apple Apps and Books (VPP) v2: the public surface of the store client.
export * from "./client.ts";
export * from "./errors.ts";
export {
  type AppleNotification,
  type AppleNotificationError,
  parseAppleNotification,
} from "./notifications.ts";
export { type DecodedSToken, decodeSToken, normalizeAppleDate } from "./parse.ts";
export { hashSToken } from "./rate-limiter.ts";
export type { AppleLogger, AppleRetryPolicy } from "./transport.ts";
export * from "./types.ts";
