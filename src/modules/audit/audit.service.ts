// TEN-5: every change is recorded with actor, time, target, before/after and request id, in the
// same transaction as the change itself.
import type { AuditResource } from "../../db/types.ts";
import type { Ctx } from "../../http/context.ts";
import type { AuditRepository, Executor } from "./audit.repository.ts";

export interface Change {
  /** Graph-style resource type, e.g. microsoft.graph.user. */
  type: string;
  id: string;
  displayName?: string | null;
  /** Graph-shaped objects before and after; never include secrets. */
  before?: Record<string, unknown> | null;
  after?: Record<string, unknown> | null;
}

export interface AuditEntry {
  /** e.g. "Create user", "Add member to group". */
  activity: string;
  component: "Directory" | "Access" | "Tenants" | "Imports" | "Provisioning" | "Tokens" | "Alerts" | "Sync" | "Apps";
  operation: "Create" | "Patch" | "Delete" | "Action";
  changes: Change[];
}

const render = (v: unknown): string | null => (v === undefined || v === null ? null : typeof v === "string" ? v : JSON.stringify(v));

export function modifiedProperties(before?: Record<string, unknown> | null, after?: Record<string, unknown> | null) {
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  const out: AuditResource["modifiedProperties"] = [];
  for (const k of keys) {
    if (k.startsWith("@odata")) continue;
    const oldValue = render(before?.[k]);
    const newValue = render(after?.[k]);
    if (oldValue !== newValue) out.push({ displayName: k, oldValue, newValue });
  }
  return out;
}

export function createAuditService(deps: { auditRepository: AuditRepository }) {
  return {
    async record(ex: Executor, ctx: Ctx, entry: AuditEntry | AuditEntry[]): Promise<void> {
      const entries = Array.isArray(entry) ? entry : [entry];
      await deps.auditRepository.insert(
        ex,
        entries.map((e) => ({
          tenantId: ctx.tenantId,
          displayName: e.activity,
          componentName: e.component,
          category: e.component,
          activity: e.activity,
          activityType: e.activity,
          activityOperationType: e.operation,
          correlationId: ctx.requestId,
          actor: ctx.actor,
          resources: e.changes.map((c) => ({
            displayName: c.displayName ?? null,
            type: c.type,
            resourceId: c.id,
            modifiedProperties: modifiedProperties(c.before, c.after),
          })),
        })),
      );
    },
  };
}
export type AuditService = ReturnType<typeof createAuditService>;
