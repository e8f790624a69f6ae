// POST /beta/admin/backup: the embedded database as a .tar.gz (what `allot backup` saves while a
// server holds the data directory; `allot restore` loads it).

import { ctxOf } from "../../http/context.ts";
import type { App } from "../../http/types.ts";
import type { BackupService } from "./backup.service.ts";

export function registerBackupRoutes(app: App, deps: { backupService: BackupService }) {
  app.post(
    "/admin/backup",
    {
      config: { access: "instance.backup" },
      schema: {
        tags: ["admin"],
        summary: "Download a consistent copy of the embedded database (gzip-compressed tar; PGlite only)",
        description: "Restore it with 'allot restore FILE' into a stopped, empty data directory.",
      },
    },
    async (req, reply) => {
      const ctx = ctxOf(req);
      const data = await deps.backupService.backup(ctx);
      const stamp = new Date()
        .toISOString()
        .replace(/[-:]/g, "")
        .replace(/\.\d+Z$/, "Z");
      req.log.info({ bytes: data.length, requestId: ctx.requestId }, "database backup downloaded");
      return reply
        .header("content-type", "application/gzip")
        .header("content-disposition", `attachment; filename="allot-backup-${stamp}.tar.gz"`)
        .header("cache-control", "no-store")
        .send(data);
    },
  );
}
