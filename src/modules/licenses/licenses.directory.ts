// The tenant's whole directory, indexed for the engine (a full load is seconds and hundreds of MB at
// 500k users and devices). A full reconcile always reads it afresh; the MDM bridge, which plans
// whole apps after every batch of settlements during an initial push, reuses the last index while
// no directory change was recorded since (directory_changes) and for at most `ttlMs`. One index is
// kept at a time, and none once it has not been asked for during `ttlMs`.
import { buildDirectoryIndex, type DirectoryIndex } from "../../engine/index.ts";
import type { LicensesRepository } from "./licenses.repository.ts";

export interface DirectoryIndexes {
  /** A newly read index (and how long reading and indexing took); later `recent` calls may share it. */
  fresh(tenantId: string): Promise<{ ix: DirectoryIndex; loadMs: number; indexMs: number }>;
  /** The last index when the directory has not changed since it was read, otherwise a new one. */
  recent(tenantId: string): Promise<DirectoryIndex>;
}

export function createDirectoryIndexes(
  repo: Pick<LicensesRepository, "loadDirectory" | "directoryVersion">,
  ttlMs = 60_000,
): DirectoryIndexes {
  let kept: { tenantId: string; version: number; at: number; ix: DirectoryIndex } | undefined;
  const loading = new Map<string, Promise<{ ix: DirectoryIndex; loadMs: number; indexMs: number }>>();
  let drop: NodeJS.Timeout | undefined;

  async function read(tenantId: string) {
    const t0 = performance.now();
    // The version is read first: a change recorded while the directory is read makes the index older than it, never newer.
    const version = await repo.directoryVersion(tenantId);
    if (kept?.tenantId === tenantId) kept = undefined; // garbage before the new one is built
    const rows = await repo.loadDirectory(tenantId);
    const t1 = performance.now();
    const ix = buildDirectoryIndex(rows);
    const t2 = performance.now();
    kept = { tenantId, version, at: Date.now(), ix };
    clearTimeout(drop);
    drop = setTimeout(() => {
      kept = undefined;
    }, ttlMs).unref();
    return { ix, loadMs: t1 - t0, indexMs: t2 - t1 };
  }

  function load(tenantId: string) {
    const p = read(tenantId).finally(() => {
      if (loading.get(tenantId) === p) loading.delete(tenantId);
    });
    loading.set(tenantId, p);
    return p;
  }

  return {
    fresh: load,
    async recent(tenantId) {
      const inFlight = loading.get(tenantId);
      if (inFlight) return (await inFlight).ix;
      const k = kept;
      if (k && k.tenantId === tenantId && Date.now() - k.at < ttlMs && (await repo.directoryVersion(tenantId)) === k.version)
        return k.ix;
      return (await load(tenantId)).ix;
    },
  };
}
