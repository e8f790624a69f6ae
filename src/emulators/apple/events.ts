// Asynchronous events (reference §6, §16.6–9): an accepted write becomes an event whose tasks are
// processed in `eventSteps` increments over `settleMs`; each increment is one write (one new
// versionId) and sends its notifications (≤ notificationMaxItems items each). The event ends
// COMPLETE when every task succeeded, FAILED when at least one failed; `numCompleted` counts
// successes and `failures` groups the failed ids by error number (and asset).
import { asyncErrorMessage, type ErrorBody } from "./errors.ts";
import { type Faults, takeTaskFailure } from "./faults.ts";
import type { Notifier } from "./notifier.ts";
import type { ResolvedOptions } from "./options.ts";
import type { Random } from "./prng.ts";
import type { AssignmentRec, Location, UserRec } from "./state.ts";

export type EventType = "ASSOCIATE" | "DISASSOCIATE" | "REVOKE" | "CREATE" | "UPDATE" | "RETIRE";
export type EventStatus = "PENDING" | "COMPLETE" | "FAILED";

export interface AssetRef {
  adamId: string;
  pricingParam?: string;
}

export interface RequestUser {
  clientUserId: string;
  email?: string;
  managedAppleId?: string;
}

export type Tasks =
  | { kind: "assets"; assets: AssetRef[]; clientUserIds: string[]; serialNumbers: string[] }
  | { kind: "revoke"; assignments: AssignmentRec[] }
  | { kind: "users"; users: RequestUser[] };

interface FailureGroup {
  errorNumber: number;
  asset?: { adamId: string; pricingParam: string };
  clientUserIds: Set<string>;
  serialNumbers: Set<string>;
}

interface FailedTask {
  errorNumber: number;
  asset?: { adamId: string; pricingParam: string };
  clientUserId?: string;
  serialNumber?: string;
}

export interface EventRec {
  eventId: string;
  location: Location;
  eventType: EventType;
  status: EventStatus;
  numRequested: number;
  numCompleted: number;
  numFailed: number;
  failures: Map<string, FailureGroup>;
  cursor: number;
  tasks: Tasks;
  createdAt: string;
  completedAt?: string;
  timer?: NodeJS.Timeout;
  step: number;
}

export interface NotificationItem {
  adamId: string;
  clientUserId?: string;
  serialNumber?: string;
  pricingParam: string;
}

type StepOutcome =
  | { ok: true; item: unknown }
  | { ok: false; item: unknown; errorNumber: number; group: FailedTask };

/** ResponseUser as Apple shows it (no inviteCode once associated, no managedAppleId ever). */
export function responseUser(u: UserRec, withInviteCode = false): Record<string, string> {
  const out: Record<string, string> = { clientUserId: u.clientUserId };
  if (u.email !== undefined) out.email = u.email;
  if (u.idHash !== undefined) out.idHash = u.idHash;
  if (u.inviteCode !== undefined && (withInviteCode || u.status === "Registered"))
    out.inviteCode = u.inviteCode;
  out.status = u.status;
  return out;
}

export class EventEngine {
  private readonly options: ResolvedOptions;
  private readonly notifier: Notifier;
  private readonly ids: Random;
  private readonly inviteCodes: Random;
  private readonly idHashes: Random;
  private readonly faults: () => Faults;
  private readonly pending: EventRec[] = [];
  private readonly byLocation = new Map<string, EventRec[]>();
  private readonly index = new Map<string, EventRec>();
  settleMs: number;
  eventSteps: number;

  constructor(deps: {
    options: ResolvedOptions;
    notifier: Notifier;
    ids: Random;
    inviteCodes: Random;
    idHashes: Random;
    faults: () => Faults;
  }) {
    this.options = deps.options;
    this.notifier = deps.notifier;
    this.ids = deps.ids;
    this.inviteCodes = deps.inviteCodes;
    this.idHashes = deps.idHashes;
    this.faults = deps.faults;
    this.settleMs = deps.options.settleMs;
    this.eventSteps = deps.options.eventSteps;
  }

  submit(location: Location, eventType: EventType, tasks: Tasks): EventRec {
    const numRequested =
      tasks.kind === "assets"
        ? tasks.assets.length * (tasks.clientUserIds.length + tasks.serialNumbers.length)
        : tasks.kind === "revoke"
          ? tasks.assignments.length
          : tasks.users.length;
    const ev: EventRec = {
      eventId: this.ids.uuid(),
      location,
      eventType,
      status: "PENDING",
      numRequested,
      numCompleted: 0,
      numFailed: 0,
      failures: new Map(),
      cursor: 0,
      tasks,
      createdAt: new Date(this.options.now()).toISOString(),
      step: 0,
    };
    this.index.set(ev.eventId, ev);
    let list = this.byLocation.get(location.uId);
    if (!list) {
      list = [];
      this.byLocation.set(location.uId, list);
    }
    list.push(ev);
    this.pending.push(ev);
    this.scheduleNext(ev);
    return ev;
  }

  get(location: Location, eventId: string): EventRec | undefined {
    const ev = this.index.get(eventId);
    return ev && ev.location === location ? ev : undefined;
  }

  eventsOf(uId: string): EventRec[] {
    return this.byLocation.get(uId) ?? [];
  }

  /** Settles every pending event now, oldest first. */
  flush(): void {
    while (this.pending.length > 0) {
      const ev = this.pending[0];
      if (ev.timer) clearTimeout(ev.timer);
      ev.timer = undefined;
      this.process(ev, ev.numRequested);
    }
  }

  close(): void {
    for (const ev of this.pending) if (ev.timer) clearTimeout(ev.timer);
    this.pending.length = 0;
  }

  statusBody(ev: EventRec): Record<string, unknown> {
    const out: Record<string, unknown> = { eventStatus: ev.status, eventType: ev.eventType };
    if (ev.failures.size > 0) out.failures = failureBodies(ev);
    out.numCompleted = ev.numCompleted;
    out.numRequested = ev.numRequested;
    return out;
  }

  private scheduleNext(ev: EventRec): void {
    const steps = this.eventSteps;
    const delay = this.settleMs <= 0 ? 0 : this.settleMs / steps;
    ev.timer = setTimeout(() => {
      ev.timer = undefined;
      ev.step++;
      const upto =
        this.settleMs <= 0 || ev.step >= steps
          ? ev.numRequested
          : Math.ceil((ev.numRequested * ev.step) / steps);
      this.process(ev, upto);
      if (ev.status === "PENDING") this.scheduleNext(ev);
    }, delay);
  }

  private process(ev: EventRec, upto: number): void {
    const loc = ev.location;
    const successes: unknown[] = [];
    const failed = new Map<number, unknown[]>();
    loc.write(() => {
      for (; ev.cursor < upto; ev.cursor++) {
        const outcome = this.runTask(ev, ev.cursor);
        if (outcome.ok) {
          ev.numCompleted++;
          successes.push(outcome.item);
        } else {
          ev.numFailed++;
          const g = outcome.group;
          const key = `${outcome.errorNumber}|${g.asset ? `${g.asset.adamId}/${g.asset.pricingParam}` : ""}`;
          let group = ev.failures.get(key);
          if (!group) {
            group = {
              errorNumber: g.errorNumber,
              asset: g.asset,
              clientUserIds: new Set(),
              serialNumbers: new Set(),
            };
            ev.failures.set(key, group);
          }
          if (g.clientUserId !== undefined) group.clientUserIds.add(g.clientUserId);
          if (g.serialNumber !== undefined) group.serialNumbers.add(g.serialNumber);
          let items = failed.get(outcome.errorNumber);
          if (!items) {
            items = [];
            failed.set(outcome.errorNumber, items);
          }
          items.push(outcome.item);
        }
      }
    });
    if (ev.cursor >= ev.numRequested) {
      ev.status = ev.numFailed > 0 ? "FAILED" : "COMPLETE";
      ev.completedAt = new Date(this.options.now()).toISOString();
      const i = this.pending.indexOf(ev);
      if (i >= 0) this.pending.splice(i, 1);
    }
    this.sendNotifications(ev, successes, failed);
  }

  private sendNotifications(ev: EventRec, successes: unknown[], failed: Map<number, unknown[]>): void {
    const userEvent = ev.tasks.kind === "users";
    const notificationType = userEvent ? "USER_MANAGEMENT" : "ASSET_MANAGEMENT";
    const max = this.options.notificationMaxItems;
    const send = (items: unknown[], error?: { errorMessage: string; errorNumber: number }) => {
      for (let i = 0; i < items.length; i += max) {
        const chunk = items.slice(i, i + max);
        const n: Record<string, unknown> = userEvent ? {} : { assignments: chunk };
        if (error) n.error = error;
        n.eventId = ev.eventId;
        n.result = error ? "FAILURE" : "SUCCESS";
        n.type = ev.eventType;
        if (userEvent) n.users = chunk;
        this.notifier.notify(ev.location, notificationType, n);
      }
    };
    send(successes);
    for (const [errorNumber, items] of failed)
      send(items, { errorMessage: asyncErrorMessage(errorNumber), errorNumber });
  }

  private runTask(ev: EventRec, i: number): StepOutcome {
    const t = ev.tasks;
    if (t.kind === "assets") return this.assetTask(ev, t, i);
    if (t.kind === "revoke") return this.revokeTask(ev, t.assignments[i]);
    return this.userTask(ev, t.users[i]);
  }

  private assetTask(ev: EventRec, t: Extract<Tasks, { kind: "assets" }>, i: number): StepOutcome {
    const loc = ev.location;
    const perAsset = t.clientUserIds.length + t.serialNumbers.length;
    const ref = t.assets[Math.floor(i / perAsset)];
    const j = i % perAsset;
    const clientUserId = j < t.clientUserIds.length ? t.clientUserIds[j] : undefined;
    const serial = clientUserId === undefined ? t.serialNumbers[j - t.clientUserIds.length] : undefined;
    const asset = loc.findAsset(ref.adamId, ref.pricingParam);
    const pricingParam = asset?.pricingParam ?? ref.pricingParam ?? "STDQ";
    const item: NotificationItem =
      clientUserId !== undefined
        ? { adamId: ref.adamId, clientUserId, pricingParam }
        : { adamId: ref.adamId, serialNumber: serial!, pricingParam };
    const fail = (errorNumber: number, withAsset: boolean): StepOutcome => ({
      ok: false,
      item,
      errorNumber,
      group: {
        errorNumber,
        asset: withAsset ? { adamId: ref.adamId, pricingParam } : undefined,
        clientUserId,
        serialNumber: serial,
      },
    });
    const injected = takeTaskFailure(this.faults());
    if (injected !== undefined) return fail(injected, true);
    let user: UserRec | undefined;
    if (clientUserId !== undefined) {
      user = loc.activeUsers.get(clientUserId);
      if (!user) return fail(9609, false);
    }
    const target = user ? { user } : { serial: serial! };
    const existing = asset ? loc.findAssignment(asset, target) : undefined;
    if (ev.eventType === "ASSOCIATE") {
      if (!asset) return fail(9709, true);
      if (existing) return this.options.lenientReassociation ? { ok: true, item } : fail(9616, true);
      if (!asset.unlimited && loc.available(asset) <= 0) return fail(9709, true);
      loc.addAssignment(asset, target);
      return { ok: true, item };
    }
    if (!existing) return this.options.lenientReassociation ? { ok: true, item } : fail(9619, true);
    loc.removeAssignment(existing);
    return { ok: true, item };
  }

  private revokeTask(ev: EventRec, rec: AssignmentRec): StepOutcome {
    const item: NotificationItem =
      rec.user !== null
        ? {
            adamId: rec.asset.adamId,
            clientUserId: rec.user.clientUserId,
            pricingParam: rec.asset.pricingParam,
          }
        : { adamId: rec.asset.adamId, serialNumber: rec.serial!, pricingParam: rec.asset.pricingParam };
    const injected = takeTaskFailure(this.faults());
    if (injected !== undefined) {
      return {
        ok: false,
        item,
        errorNumber: injected,
        group: {
          errorNumber: injected,
          asset: { adamId: rec.asset.adamId, pricingParam: rec.asset.pricingParam },
          clientUserId: rec.user?.clientUserId,
          serialNumber: rec.serial ?? undefined,
        },
      };
    }
    ev.location.removeAssignment(rec);
    return { ok: true, item };
  }

  private userTask(ev: EventRec, u: RequestUser): StepOutcome {
    const loc = ev.location;
    const fail = (errorNumber: number): StepOutcome => {
      const item: Record<string, string> = { clientUserId: u.clientUserId };
      if (u.email !== undefined) item.email = u.email;
      return { ok: false, item, errorNumber, group: { errorNumber, clientUserId: u.clientUserId } };
    };
    const injected = takeTaskFailure(this.faults());
    if (injected !== undefined) return fail(injected);
    const active = loc.activeUsers.get(u.clientUserId);
    const appleIdTaken = (appleId: string, self?: UserRec) => {
      for (const other of loc.activeUsers.values())
        if (other !== self && other.managedAppleId?.toLowerCase() === appleId.toLowerCase()) return true;
      return false;
    };
    if (ev.eventType === "CREATE") {
      if (active) return fail(9716);
      if (u.managedAppleId && appleIdTaken(u.managedAppleId)) return fail(9641);
      const user = loc.addUser({
        clientUserId: u.clientUserId,
        email: u.email,
        managedAppleId: u.managedAppleId,
        ...(u.managedAppleId
          ? { status: "Associated" as const, idHash: this.idHash() }
          : { status: "Registered" as const, inviteCode: this.inviteCodes.hex(32) }),
      });
      return { ok: true, item: responseUser(user) };
    }
    if (!active) return fail(9609);
    if (ev.eventType === "UPDATE") {
      if (u.managedAppleId && appleIdTaken(u.managedAppleId, active)) return fail(9641);
      if (u.email !== undefined) active.email = u.email;
      if (u.managedAppleId !== undefined && u.managedAppleId !== active.managedAppleId) {
        active.managedAppleId = u.managedAppleId;
        if (active.status === "Registered") {
          active.status = "Associated";
          active.idHash = this.idHash();
        }
      }
      loc.logUser(active);
      return { ok: true, item: responseUser(active) };
    }
    loc.retireUser(active);
    return { ok: true, item: responseUser(active) };
  }

  idHash(): string {
    return this.idHashes.bytes(20).toString("base64");
  }

  newInviteCode(): string {
    return this.inviteCodes.hex(32);
  }
}

function failureBodies(ev: EventRec): ErrorBody[] {
  const out: ErrorBody[] = [];
  for (const g of ev.failures.values()) {
    const errorInfo: NonNullable<ErrorBody["errorInfo"]> = {};
    if (g.asset) errorInfo.assets = [g.asset];
    if (g.clientUserIds.size > 0) errorInfo.clientUserIds = [...g.clientUserIds];
    if (g.serialNumbers.size > 0) errorInfo.serialNumbers = [...g.serialNumbers];
    out.push({
      errorInfo,
      errorNumber: g.errorNumber,
      errorMessage: asyncErrorMessage(g.errorNumber),
    } as ErrorBody);
  }
  return out;
}
