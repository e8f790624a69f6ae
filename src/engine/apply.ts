// What applying a plan means, as pure functions: the ledger rows after writing the changed decisions,
// the install states after queueing the device commands, the Apple users after the registrations and
// invitations. The ledger service (ENG-3) does the same in SQL; previews and tests use these.
import type { IncrementalPlan } from "./plan.ts";
import type {
  AppInput,
  AppleUserRecord,
  AppPlan,
  DeviceInstall,
  DirectoryInput,
  HoldingDecision,
  LedgerHolding,
  Millis,
  Operation,
} from "./types.ts";

/** The ledger row a decision asks for (null when it asks for none). */
export function ledgerRowOf(d: HoldingDecision): LedgerHolding | null {
  if (d.state === null) return null;
  return {
    holderType: d.holderType,
    holderId: d.holderId,
    state: d.state,
    reason: d.reason,
    licenseType: d.licenseType,
    since: d.since ?? 0,
    waitingSince: d.waitingSince,
    entitledAt: d.entitledAt,
    holderSeq: d.holderSeq,
    storeKey: d.storeKey,
  };
}

const holderKey = (t: string, id: string) => `${t}:${id}`;

/** The app's ledger and install states after the plan is written and its device commands queued. */
export function applyPlan(input: AppInput, plan: AppPlan | IncrementalPlan, now: Millis): AppInput {
  const rows = new Map<string, LedgerHolding>();
  for (const h of input.holdings) rows.set(holderKey(h.holderType, h.holderId), h);
  for (const d of plan.holdings) {
    if (!d.changed) continue;
    const row = ledgerRowOf(d);
    if (row) rows.set(holderKey(d.holderType, d.holderId), row);
  }
  const installs = new Map<string, DeviceInstall>();
  for (const i of input.installs ?? []) installs.set(i.deviceId, i);
  for (const op of plan.operations) {
    if (op.kind === "installCommand")
      installs.set(op.deviceId, { deviceId: op.deviceId, state: "installPending", since: now });
    else if (op.kind === "removeCommand")
      installs.set(op.deviceId, { deviceId: op.deviceId, state: "removePending", since: now });
  }
  return { ...input, holdings: [...rows.values()], installs: [...installs.values()] };
}

/**
 * Apple users after registrations and invitations: both leave the user `invited` (the service registers
 * and, once Apple returns the invite code, sends the invitation). A new clientUserId is the user's id.
 */
export function applyAppleUserOps(dir: DirectoryInput, ops: Iterable<Operation>): DirectoryInput {
  const recs = new Map<string, AppleUserRecord>();
  for (const a of dir.appleUsers ?? []) recs.set(`${a.tokenId}\u0000${a.userId}`, a);
  let touched = false;
  for (const op of ops) {
    if (op.kind !== "registerAppleUser" && op.kind !== "inviteAppleUser") continue;
    const k = `${op.tokenId}\u0000${op.userId}`;
    const prev = recs.get(k);
    recs.set(k, {
      tokenId: op.tokenId,
      userId: op.userId,
      state: "invited",
      clientUserId: prev?.clientUserId ?? op.clientUserId ?? op.userId,
      externalDeviceCount: prev?.externalDeviceCount,
    });
    touched = true;
  }
  return touched ? { ...dir, appleUsers: [...recs.values()] } : dir;
}
