// What an incremental plan needs to read, as a pure function over the full inputs. The ledger service
// loads the same rows with SQL (the changed principals' memberOf closure with join times, their
// devices and primary users, the affected ledger rows, the app's counts and the head of its queue);
// tests use this to check that an incremental plan equals the full plan.
import { capacityOf, type IncrementalInput, queueCompare, queueHeadSize } from "./plan.ts";
import {
  type AppInput,
  CONSUMING_STATES,
  type DirectoryInput,
  type LedgerHolding,
  LICENSED_STATES,
  type MembershipEdge,
} from "./types.ts";

export interface Changed {
  users?: readonly string[];
  devices?: readonly string[];
}

/**
 * Affected holders: the changed users, the primary users of the changed devices, the changed devices,
 * and every device of an affected user (a user's license can come through any of them, the 5-device
 * limit ranks them all, and Uninstall on a device must be weighed against every install there).
 */
export function affectedIds(
  full: DirectoryInput,
  changed: Changed,
): { users: Set<string>; devices: Set<string> } {
  const users = new Set(changed.users ?? []);
  const devices = new Set(changed.devices ?? []);
  const deviceUser = new Map<string, string | null>();
  for (const d of full.devices) deviceUser.set(d.id, d.userId);
  for (const id of changed.devices ?? []) {
    const u = deviceUser.get(id);
    if (u) users.add(u);
  }
  for (const d of full.devices) if (d.userId && users.has(d.userId)) devices.add(d.id);
  return { users, devices };
}

/**
 * The directory an incremental plan reads: the affected holders (affectedIds) as principals, their
 * Apple user records, and every membership edge on a path from any group down to one of them.
 */
export function sliceDirectory(full: DirectoryInput, changed: Changed): DirectoryInput {
  const { users, devices } = affectedIds(full, changed);

  const byMember = new Map<string, MembershipEdge[]>();
  for (const e of full.memberships) {
    const list = byMember.get(e.memberId);
    if (list) list.push(e);
    else byMember.set(e.memberId, [e]);
  }
  const edges = new Set<MembershipEdge>();
  const seen = new Set<string>();
  let frontier = [...users, ...devices];
  while (frontier.length > 0) {
    const next: string[] = [];
    for (const m of frontier) {
      for (const e of byMember.get(m) ?? []) {
        edges.add(e);
        if (!seen.has(e.groupId)) {
          seen.add(e.groupId);
          next.push(e.groupId);
        }
      }
    }
    frontier = next;
  }
  return {
    users: full.users.filter((u) => users.has(u.id)),
    devices: full.devices.filter((d) => devices.has(d.id)),
    memberships: full.memberships.filter((e) => edges.has(e)),
    appleUsers: (full.appleUsers ?? []).filter((a) => users.has(a.userId)),
  };
}

/**
 * The incremental input for `changed`, cut from the full inputs the way the ledger service reads it.
 * `queueRows` limits the queue head (default: queueHeadSize(...); Infinity = all rows).
 */
export function sliceForIncremental(
  fullDirectory: DirectoryInput,
  fullApp: AppInput,
  changed: Changed,
  queueRows?: number,
): { directory: DirectoryInput; input: IncrementalInput } {
  const directory = sliceDirectory(fullDirectory, changed);
  const deviceIds = new Set(directory.devices.map((d) => d.id));
  // Affected holders, as planAppIncremental derives them; named holders absent from the directory
  // (deleted) are affected too.
  const { users: hUsers, devices: hDevices } = affectedIds(fullDirectory, changed);
  const affected = (h: LedgerHolding) => (h.holderType === "user" ? hUsers : hDevices).has(h.holderId);
  let consuming = 0;
  let licensed = 0;
  const queue: LedgerHolding[] = [];
  for (const h of fullApp.holdings) {
    if (CONSUMING_STATES.has(h.state)) consuming++;
    if (LICENSED_STATES.has(h.state)) licensed++;
    if (h.state === "waiting" && h.reason === "insufficientLicenses") queue.push(h);
  }
  const key = (h: LedgerHolding) => ({
    time: h.entitledAt ?? Number.MAX_VALUE,
    seq: h.holderSeq ?? Number.MAX_SAFE_INTEGER,
    type: h.holderType,
    id: h.holderId,
  });
  queue.sort((a, b) => queueCompare(key(a), key(b)));
  const holdings = fullApp.holdings.filter(affected);
  const limit = queueRows ?? queueHeadSize(capacityOf(fullApp.app), consuming, hUsers.size + hDevices.size);
  const head = queue.slice(0, limit);
  return {
    directory,
    input: {
      app: fullApp.app,
      assignments: fullApp.assignments,
      holdings,
      installRequests: (fullApp.installRequests ?? []).filter((r) => deviceIds.has(r.deviceId)),
      installs: (fullApp.installs ?? []).filter((i) => deviceIds.has(i.deviceId)),
      changed: { users: [...(changed.users ?? [])], devices: [...(changed.devices ?? [])] },
      ledgerCounts: { consuming, licensed },
      queue: head,
      queueComplete: head.length === queue.length,
    },
  };
}
