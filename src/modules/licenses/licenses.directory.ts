// The tenant's whole directory, indexed for the engine (a full load is seconds and hundreds of MB at
// 500k users and devices). A full reconcile always reads it afresh; the MDM bridge, which plans
// whole apps after large batches of settlements during an initial push, reuses the last index while
// no directory change was recorded since (directory_changes: every change of a column the engine
// reads is recorded) and nothing invalidated it (Allot's own Apple-user registrations and
// invitations). One index is kept at a time, and none once it has not been asked for during `ttlMs`.
import { buildDirectoryIndex, type DirectoryIndex } from "../../engine/index.ts";
import type { LicensesRepository } from "./licenses.repository.ts";

export interface DirectoryIndexes {
  /** A newly read index (and how long reading and indexing took); later `recent` calls may share it. */
  fresh(tenantId: string): Promise<{ ix: DirectoryIndex; loadMs: number; indexMs: number }>;
  /** The last index when the directory has not changed since it was read, otherwise a new one. */
  recent(tenantId: string): Promise<DirectoryIndex>;
  /** Forgets the tenant's index (a change that directory_changes does not record). */
  invalidate(tenantId: string): void;
}

export function createDirectoryIndexes(
  repo: Pick<LicensesRepository, "loadDirectory" | "directoryVersion">,
  ttlMs = 60_000,
): DirectoryIndexes {
  let kept: { tenantId: string; version: number; ix: DirectoryIndex } | undefined;
  type Read = { ix: DirectoryIndex; loadMs: number; indexMs: number };
  const loading = new Map<string, { generation: number; read: Promise<Read> }>();
  // Bumped by invalidate(): a read started before the bump may predate the change, so it is not kept.
  const generations = new Map<string, number>();
  const generationOf = (tenantId: string) => generations.get(tenantId) ?? 0;
  let drop: NodeJS.Timeout | undefined;
  const keepAlive = () => {
    clearTimeout(drop);
    drop = setTimeout(() => {
      kept = undefined;
    }, ttlMs).unref();
  };

  async function read(tenantId: string, generation: number): Promise<Read> {
    const t0 = performance.now();
    // The version is read first: a change recorded while the directory is read makes the index older than it, never newer.
    const version = await repo.directoryVersion(tenantId);
    if (kept?.tenantId === tenantId) kept = undefined; // garbage before the new one is built
    const rows = await repo.loadDirectory(tenantId);
    const t1 = performance.now();
    const ix = buildDirectoryIndex(rows);
    const t2 = performance.now();
    if (generation === generationOf(tenantId)) kept = { tenantId, version, ix };
    keepAlive();
    return { ix, loadMs: t1 - t0, indexMs: t2 - t1 };
  }

  function load(tenantId: string) {
    const generation = generationOf(tenantId);
    const entry = { generation, read: read(tenantId, generation) };
    void entry.read
      .catch(() => undefined)
      .then(() => {
        if (loading.get(tenantId) === entry) loading.delete(tenantId);
      });
    loading.set(tenantId, entry);
    return entry.read;
  }

  return {
    fresh: load,
    async recent(tenantId) {
      const inFlight = loading.get(tenantId);
      if (inFlight && inFlight.generation === generationOf(tenantId)) return (await inFlight.read).ix;
      const k = kept;
      if (k && k.tenantId === tenantId && (await repo.directoryVersion(tenantId)) === k.version && kept === k) {
        keepAlive();
        return k.ix;
      }
      return (await load(tenantId)).ix;
    },
    invalidate(tenantId) {
      generations.set(tenantId, generationOf(tenantId) + 1);
      if (kept?.tenantId === tenantId) kept = undefined;
    },
  };
}
