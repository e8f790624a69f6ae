// Apple's error numbers: the messages (the published Service Config catalogue, read from Apple's own
// example in fixtures/, plus the codes the catalogue leaves out) and the HTTP status each one is sent
// with (reference §9.1). Asynchronous failures (status `failures`, notification `error`) use the
// wording Apple's status examples use, which differs from the catalogue for some numbers.
import { readFileSync } from "node:fs";

export interface ErrorBody {
  errorNumber: number;
  errorMessage: string;
  errorInfo?: {
    assets?: { adamId: string; pricingParam: string }[];
    clientUserIds?: string[];
    serialNumbers?: string[];
  };
}

interface ServiceConfigFixture {
  errorCodes: { errorMessage: string; errorNumber: number }[];
  limits: Record<string, number>;
  notificationTypes: string[];
  urls: Record<string, string>;
}

export const serviceConfigFixture: ServiceConfigFixture = JSON.parse(
  readFileSync(new URL("./fixtures/service-config-response.json", import.meta.url), "utf8"),
);

const extraMessages: Record<number, string> = {
  9600: "Missing required argument.",
  9604: "Result not found.",
  9616: "License already assigned.",
  9619: "License not associated.",
  9622: "Invalid authentication token.",
  9623: "Invalid Apple Push Notification token.",
  9635: "The Apple Account cannot be associated with this user.",
  9637: "This operation is not allowed for facilitator accounts.",
  9641: "The Apple Account is already associated with another user.",
  9644: "The service is in maintenance mode. Try again later.",
  9647: "This operation is not supported for legacy tokens.",
  9729: "The service is temporarily unavailable. Try again later.",
};

// Wording seen in status bodies and notifications (Apple: "any errorMessage maps to exactly one
// errorNumber, but not the other way round").
const asyncMessages: Record<number, string> = {
  9609: "Unable to find registered user.",
  9709: "There are not enough licenses for this app or book available to assign to the selected group.",
  9716: "A registered user already exists with the specified clientUserId.",
};

const catalogue = new Map<number, string>(
  serviceConfigFixture.errorCodes.map((e) => [e.errorNumber, e.errorMessage]),
);

export function errorMessage(errorNumber: number): string {
  return catalogue.get(errorNumber) ?? extraMessages[errorNumber] ?? "Internal error.";
}

export function asyncErrorMessage(errorNumber: number): string {
  return asyncMessages[errorNumber] ?? errorMessage(errorNumber);
}

const httpStatus: Record<number, number> = {
  9601: 401,
  9603: 500,
  9621: 401,
  9622: 401,
  9625: 401,
  9634: 410,
  9637: 403,
  9646: 429,
  9647: 403,
  9722: 401,
  9726: 405,
  9727: 415,
  9729: 503,
};

/** HTTP status Apple documents for an error number (400 unless listed). */
export function defaultHttpStatus(errorNumber: number): number {
  return httpStatus[errorNumber] ?? 400;
}

/** A synchronous error: the body Apple sends and the HTTP status it comes with. */
export class AppleApiError extends Error {
  readonly errorNumber: number;
  readonly errorInfo?: ErrorBody["errorInfo"];
  readonly headers?: Record<string, string>;
  readonly httpStatus?: number;

  constructor(
    errorNumber: number,
    options: {
      errorInfo?: ErrorBody["errorInfo"];
      headers?: Record<string, string>;
      httpStatus?: number;
    } = {},
  ) {
    super(errorMessage(errorNumber));
    this.errorNumber = errorNumber;
    this.errorInfo = options.errorInfo;
    this.headers = options.headers;
    this.httpStatus = options.httpStatus;
  }

  body(): ErrorBody {
    const out: ErrorBody = { errorNumber: this.errorNumber, errorMessage: this.message };
    if (this.errorInfo) out.errorInfo = this.errorInfo;
    return out;
  }
}
