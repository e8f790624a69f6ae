// One error type for the whole service. Codes are stable (clients and tests match on them); the
// HTTP status and the Graph error code each one maps to live here and nowhere else.

export const errorCodes = {
  badRequest: { status: 400, graph: "Request_BadRequest" },
  invalidRequest: { status: 400, graph: "invalidRequest" },
  unauthenticated: { status: 401, graph: "InvalidAuthenticationToken" },
  forbidden: { status: 403, graph: "Authorization_RequestDenied" },
  notFound: { status: 404, graph: "Request_ResourceNotFound" },
  methodNotAllowed: { status: 405, graph: "notAllowed" },
  conflict: { status: 409, graph: "Request_MultipleObjectsWithSameKeyValue" },
  preconditionFailed: { status: 412, graph: "resourceModified" },
  payloadTooLarge: { status: 413, graph: "requestEntityTooLarge" },
  unsupportedMediaType: { status: 415, graph: "unsupportedMediaType" },
  failedDependency: { status: 424, graph: "failedDependency" },
  tooManyRequests: { status: 429, graph: "activityLimitReached" },
  internal: { status: 500, graph: "generalException" },
  notImplementedQuery: { status: 501, graph: "notSupported" },
  serviceUnavailable: { status: 503, graph: "serviceNotAvailable" },
} as const;

export type ErrorCode = keyof typeof errorCodes;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details?: unknown;
  readonly headers?: Record<string, string>;

  constructor(code: ErrorCode, message: string, options?: { details?: unknown; headers?: Record<string, string>; cause?: unknown }) {
    super(message, { cause: options?.cause });
    this.name = "AppError";
    this.code = code;
    this.details = options?.details;
    this.headers = options?.headers;
  }

  get status(): number {
    return errorCodes[this.code].status;
  }

  get graphCode(): string {
    return errorCodes[this.code].graph;
  }
}

export const badRequest = (message: string, details?: unknown) => new AppError("badRequest", message, { details });
export const notFound = (what: string, id: string) =>
  new AppError("notFound", `Resource '${id}' does not exist or one of its queried reference-property objects are not present (${what}).`);
export const conflict = (message: string) => new AppError("conflict", message);
export const forbidden = (message = "Insufficient privileges to complete the operation.") => new AppError("forbidden", message);
