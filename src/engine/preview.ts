// Dry runs (ENG-7): the same engine over the inputs with a change applied, compared with the plan of the
// inputs as they are. Nothing is written; the routes return the result as is.
import { buildDirectoryIndex, type DirectoryIndex } from "./directory.ts";
import { planApp, queueCompare } from "./plan.ts";
import {
  type AppInput,
  type AppPlan,
  type DirectoryInput,
  type EngineAssignment,
  type HolderType,
  LICENSED_STATES,
  type MembershipEdge,
  type PlanCounts,
  type PlanOptions,
} from "./types.ts";

export type PlanChange =
  /** Replace the app's assignment set (previewAssign). */
  | { kind: "assignments"; assignments: readonly EngineAssignment[] }
  /** Add and/or remove direct memberships. */
  | {
      kind: "membership";
      add?: readonly MembershipEdge[];
      remove?: readonly { groupId: string; memberId: string }[];
    }
  /** The store's totalCount after a purchase (or refund). */
  | { kind: "purchaseCount"; totalCount: number };

export interface PreviewInput {
  directory: DirectoryInput;
  /** The index of `directory`, when the caller has one already (reused for non-membership changes). */
  index?: DirectoryIndex;
  app: AppInput;
}

export interface PreviewHolder {
  id: string;
  type: HolderType;
}

export interface Preview {
  /** Holders licensed after the change that were not licensed before, in the order they are served. */
  licensed: PreviewHolder[];
  /** Every holder left waiting after the change, with the reason. */
  waiting: (PreviewHolder & { reason: string })[];
  /** Holders licensed before the change whose license the change releases. */
  released: PreviewHolder[];
  counts: PlanCounts;
  countsBefore: PlanCounts;
  cost: {
    unitPrice: number | null;
    /** value of the licenses held after / before */
    licensedValue: number | null;
    licensedValueBefore: number | null;
    /** value of the licenses that would be newly taken */
    newlyLicensedValue: number | null;
    /** what serving every insufficientLicenses waiter would cost */
    shortfallValue: number | null;
    /** purchase-count changes: the price of the licenses bought (negative for a refund) */
    purchaseValue: number | null;
  };
}

/** The inputs after a change (pure; the inputs are not modified). */
export function applyChange(
  directory: DirectoryInput,
  app: AppInput,
  change: PlanChange,
): { directory: DirectoryInput; app: AppInput } {
  if (change.kind === "assignments") return { directory, app: { ...app, assignments: change.assignments } };
  if (change.kind === "purchaseCount")
    return { directory, app: { ...app, app: { ...app.app, totalCount: change.totalCount } } };
  const removed = new Set((change.remove ?? []).map((r) => `${r.groupId}\u0000${r.memberId}`));
  const added = new Map<string, MembershipEdge>();
  for (const e of change.add ?? []) added.set(`${e.groupId}\u0000${e.memberId}`, e);
  const memberships: MembershipEdge[] = [];
  for (const e of directory.memberships) {
    const k = `${e.groupId}\u0000${e.memberId}`;
    if (removed.has(k) || added.has(k)) continue; // an added edge that exists already keeps the new joinedAt
    memberships.push(e);
  }
  for (const [k, e] of added) if (!removed.has(k)) memberships.push(e);
  return { directory: { ...directory, memberships }, app };
}

function money(p: number | null, n: number): number | null {
  return p === null ? null : Math.round(p * n * 100) / 100;
}

/** The difference between two plans of the same app (before → after). */
export function diffPlans(
  before: AppPlan,
  after: AppPlan,
  unitPrice: number | null,
  purchaseDelta = 0,
): Preview {
  const licensedBefore = new Set<string>();
  for (const d of before.holdings)
    if (d.state && LICENSED_STATES.has(d.state)) licensedBefore.add(`${d.holderType}:${d.holderId}`);
  const licensedAfter = new Set<string>();
  const licensedDecisions: AppPlan["holdings"] = [];
  const waiting: Preview["waiting"] = [];
  for (const d of after.holdings) {
    const k = `${d.holderType}:${d.holderId}`;
    if (d.state && LICENSED_STATES.has(d.state)) {
      licensedAfter.add(k);
      if (!licensedBefore.has(k)) licensedDecisions.push(d);
    } else if (d.state === "waiting")
      waiting.push({ id: d.holderId, type: d.holderType, reason: d.reason ?? "" });
  }
  // in queue order: the order in which they are served
  const queueKey = (d: AppPlan["holdings"][number]) => ({
    time: d.entitledAt ?? Number.MAX_VALUE,
    seq: d.holderSeq,
    type: d.holderType,
    id: d.holderId,
  });
  licensedDecisions.sort((a, b) => queueCompare(queueKey(a), queueKey(b)));
  const licensed: PreviewHolder[] = licensedDecisions.map((d) => ({ id: d.holderId, type: d.holderType }));
  const released: PreviewHolder[] = [];
  for (const d of before.holdings)
    if (d.state && LICENSED_STATES.has(d.state) && !licensedAfter.has(`${d.holderType}:${d.holderId}`))
      released.push({ id: d.holderId, type: d.holderType });
  return {
    licensed,
    waiting,
    released,
    counts: after.counts,
    countsBefore: before.counts,
    cost: {
      unitPrice,
      licensedValue: money(unitPrice, after.counts.licensed),
      licensedValueBefore: money(unitPrice, before.counts.licensed),
      newlyLicensedValue: money(unitPrice, licensed.length),
      shortfallValue: money(unitPrice, after.counts.shortfall),
      purchaseValue: purchaseDelta === 0 ? (unitPrice === null ? null : 0) : money(unitPrice, purchaseDelta),
    },
  };
}

/**
 * Dry run of a change (ENG-7): who gets a license, who waits and why, what is released, what it costs.
 * Equals the difference the change makes when it is applied and planned (see the property test).
 */
export function previewChange(current: PreviewInput, change: PlanChange, options: PlanOptions): Preview {
  const ixBefore = current.index ?? buildDirectoryIndex(current.directory);
  const before = planApp(ixBefore, current.app, options);
  const next = applyChange(current.directory, current.app, change);
  const ixAfter = change.kind === "membership" ? buildDirectoryIndex(next.directory) : ixBefore;
  const after = planApp(ixAfter, next.app, options);
  const purchaseDelta = change.kind === "purchaseCount" ? change.totalCount - current.app.app.totalCount : 0;
  return diffPlans(before, after, current.app.app.unitPrice ?? null, purchaseDelta);
}
