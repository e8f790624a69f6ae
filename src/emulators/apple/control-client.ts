// A typed client of the emulator's control API (/_emulator), over HTTP. Tests, benchmarks and the
// demo use it; anything else can call the same URLs directly (README.md documents them).

export interface AssetInput {
  adamId: string;
  pricingParam?: "STDQ" | "PLUS";
  productType?: "App" | "Book";
  name?: string;
  bundleId?: string;
  version?: string;
  totalCount?: number;
  deviceAssignable?: boolean;
  revocable?: boolean;
  supportedPlatforms?: string[];
  unlimited?: boolean;
  storefronts?: string[];
  isB2BCustomApp?: boolean;
  artistName?: string;
  releaseDate?: string;
  minimumOSVersion?: string;
  watchBundleId?: string;
  localizedNames?: Record<string, string>;
  genre?: string;
  price?: number;
  description?: string;
}

export interface LocationInput {
  orgName: string;
  locationName: string;
  countryISO2ACode: string;
  assets?: AssetInput[];
  expDate?: string;
  accountType?: "business" | "education";
  appleId?: string;
}

export interface TruthAssignment {
  adamId: string;
  pricingParam: string;
  serialNumber?: string;
  clientUserId?: string;
  userStatus?: "Retired";
}

export interface TruthAsset {
  adamId: string;
  pricingParam: string;
  productType: string;
  assignedCount: number;
  availableCount: number;
  retiredCount: number;
  totalCount: number;
  deviceAssignable: boolean;
  revocable: boolean;
  supportedPlatforms: string[];
  unlimited: boolean;
  name?: string;
  bundleId?: string;
  version?: string;
}

export interface TruthEvent {
  eventId: string;
  kind: string;
  eventType: string;
  eventStatus: "PENDING" | "COMPLETE" | "FAILED";
  numRequested: number;
  numCompleted: number;
  numFailed: number;
  createdAt: string;
  completedAt: string | null;
}

export interface FaultsInput {
  rateLimitRps?: number;
  latencyMs?: number;
  failNext?: {
    status: number;
    errorNumber: number;
    retryAfter?: number;
    count?: number;
    path?: string;
    method?: string;
  }[];
  notifications?: {
    drop?: boolean | number;
    duplicate?: boolean | number;
    reorder?: boolean | number;
    delayMs?: number;
  };
  taskFailures?: { errorNumber: number; count?: number }[];
}

export interface DeliveryRecord {
  notificationId: string;
  notificationType: string;
  attempt: number;
  outcome: "delivered" | "failed" | "gave-up" | "dropped" | "no-url";
  status?: number;
  error?: string;
  duplicate?: boolean;
  at: string;
}

export class ControlApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export type AppleEmulatorControl = ReturnType<typeof createAppleControlClient>;

/** `url` is the emulator root (http://127.0.0.1:PORT), not the /mdm/v2 base. */
export function createAppleControlClient(url: string) {
  const root = `${url.replace(/\/+$/, "")}/_emulator`;
  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(root + path, {
      method,
      headers: body === undefined ? undefined : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    const parsed = text ? JSON.parse(text) : undefined;
    if (!res.ok)
      throw new ControlApiError(
        res.status,
        parsed?.error?.message ?? `${method} ${path} answered ${res.status}`,
      );
    return parsed as T;
  }
  const loc = (uId: string) => `/locations/${encodeURIComponent(uId)}`;
  return {
    createLocation: (input: LocationInput) =>
      call<{ uId: string; sToken: string }>("POST", "/locations", input),
    locations: () => call<{ locations: Record<string, unknown>[] }>("GET", "/locations"),
    location: (uId: string) => call<Record<string, unknown>>("GET", loc(uId)),
    purchase: (
      uId: string,
      input: { adamId: string; pricingParam?: string; count: number } & Partial<AssetInput>,
    ) => call<TruthAsset>("POST", `${loc(uId)}/purchase`, input),
    renew: (uId: string, input: { expDate?: string } = {}) =>
      call<{ sToken: string }>("POST", `${loc(uId)}/renew`, input),
    claim: (
      uId: string,
      input: {
        mdmInfo: { id: string; name: string; metadata: string };
        notificationUrl?: string;
        notificationAuthToken?: string;
        notificationTypes?: string[];
      },
    ) => call<{ mdmInfo: unknown }>("POST", `${loc(uId)}/claim`, input),
    assignments: (uId: string) => call<{ assignments: TruthAssignment[] }>("GET", `${loc(uId)}/assignments`),
    seedAssignments: (uId: string, input: Record<string, unknown>) =>
      call<{ added: number; skipped: number; assignmentCount: number }>(
        "POST",
        `${loc(uId)}/assignments`,
        input,
      ),
    assets: (uId: string) => call<{ assets: TruthAsset[] }>("GET", `${loc(uId)}/assets`),
    events: (uId: string) => call<{ events: TruthEvent[] }>("GET", `${loc(uId)}/events`),
    seedUsers: (uId: string, input: Record<string, unknown>) =>
      call<{ added: number; skipped: number }>("POST", `${loc(uId)}/users`, input),
    users: (uId: string) => call<{ users: Record<string, unknown>[] }>("GET", `${loc(uId)}/users`),
    acceptInvitation: (uId: string, clientUserId: string) =>
      call<{ user: Record<string, string> }>(
        "POST",
        `${loc(uId)}/users/${encodeURIComponent(clientUserId)}/accept`,
        {},
      ),
    notifications: (uId: string) =>
      call<{ deliveries: DeliveryRecord[] }>("GET", `${loc(uId)}/notifications`),
    setVersion: (adamId: string, version: string) =>
      call<{ adamId: string; version: string }>("POST", `/assets/${encodeURIComponent(adamId)}/version`, {
        version,
      }),
    faults: () => call<Record<string, unknown>>("GET", "/faults"),
    setFaults: (input: FaultsInput) => call<Record<string, unknown>>("POST", "/faults", input),
    clearFaults: () => call<Record<string, unknown>>("DELETE", "/faults"),
    config: () => call<Record<string, unknown>>("GET", "/config"),
    patchConfig: (input: Record<string, unknown>) => call<Record<string, unknown>>("PATCH", "/config", input),
    setLimits: (limits: Record<string, number>) =>
      call<{ limits: Record<string, number> }>("PATCH", "/limits", limits),
    /** Settles every pending event; waits for notifications too unless `notifications: false`. */
    flush: (input: { notifications?: boolean } = {}) => call<{ flushed: true }>("POST", "/flush", input),
  };
}
