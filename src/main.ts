// Composition root: config → database → repositories → services → HTTP (and, later, workers).
// The only place that wires dependencies.
import { readFileSync } from "node:fs";
import type { FastifyInstance } from "fastify";
import { sql } from "kysely";
import type { AppConfig } from "./config/env.ts";
import { createDatabase, type Database } from "./db/database.ts";
import { createHttpServer } from "./http/server.ts";
import type { App } from "./http/types.ts";
import { createAccessRepository } from "./modules/access/access.repository.ts";
import { registerAdminRoutes, registerAuthRoutes } from "./modules/access/access.routes.ts";
import { createAccessService } from "./modules/access/access.service.ts";
import { createAuditRepository } from "./modules/audit/audit.repository.ts";
import { registerAuditRoutes } from "./modules/audit/audit.routes.ts";
import { registerBackupRoutes } from "./modules/backup/backup.routes.ts";
import { createBackupService } from "./modules/backup/backup.service.ts";
import { createAuditService } from "./modules/audit/audit.service.ts";
import { createDirectoryRepository } from "./modules/directory/directory.repository.ts";
import { registerDirectoryRoutes } from "./modules/directory/directory.routes.ts";
import { createDirectoryService } from "./modules/directory/directory.service.ts";
import { createImportsRepository } from "./modules/imports/imports.repository.ts";
import { registerImportRoutes } from "./modules/imports/imports.routes.ts";
import { createImportsService } from "./modules/imports/imports.service.ts";
import { createScimRepository } from "./modules/scim/scim.repository.ts";
import { registerScimRoutes, registerScimTokenRoutes } from "./modules/scim/scim.routes.ts";
import { createScimService } from "./modules/scim/scim.service.ts";
import { bootstrap, type BootstrapResult } from "./modules/tenants/bootstrap.ts";
import { createTenantsRepository } from "./modules/tenants/tenants.repository.ts";
import { createTenantsService } from "./modules/tenants/tenants.service.ts";
import { registerConsoleRoutes } from "./http/console.ts";

export const version: string = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version;

export interface Allot {
  config: AppConfig;
  database: Database;
  server: FastifyInstance;
  services: ReturnType<typeof createServices>;
  bootstrapResult: BootstrapResult;
  close(): Promise<void>;
}

function createServices(config: AppConfig, database: Database) {
  const { db } = database;
  const auditRepository = createAuditRepository(db);
  const accessRepository = createAccessRepository(db);
  const tenantsRepository = createTenantsRepository(db);
  const directoryRepository = createDirectoryRepository(db);

  const auditService = createAuditService({ auditRepository });
  const tenantsService = createTenantsService({ db, tenantsRepository, auditService });
  const accessService = createAccessService({
    db,
    accessRepository,
    auditService,
    tenantsService,
    secretKey: config.secretKey,
    accessTokenTtlSeconds: config.ALLOT_ACCESS_TOKEN_TTL_SECONDS,
    sessionTtlHours: config.ALLOT_SESSION_TTL_HOURS,
  });
  const directoryService = createDirectoryService({ db, directoryRepository, auditService });
  const scimRepository = createScimRepository(db);
  const scimService = createScimService({ db, scimRepository, directoryRepository, directoryService, auditService });
  const importsRepository = createImportsRepository(db, database.kind);
  const importsService = createImportsService({ db, importsRepository, auditService, engine: database.kind, dataDir: config.dataDir, chunkRows: config.ALLOT_IMPORT_CHUNK_ROWS });
  return { importsRepository, importsService, auditRepository, accessRepository, tenantsRepository, directoryRepository, auditService, tenantsService, accessService, directoryService, scimRepository, scimService };
}

/** Builds a complete Allot (database migrated, bootstrap done, routes registered) without listening. */
export async function createAllot(config: AppConfig, options: { database?: Database } = {}): Promise<Allot> {
  const database =
    options.database ??
    (await createDatabase(config.database.kind === "postgres" ? { kind: "postgres", url: config.database.url } : { kind: "pglite", dataDir: config.database.dataDir }));
  const services = createServices(config, database);
  const backupService = createBackupService({ database, tenantsService: services.tenantsService });
  const routeDeps = { ...services, secureCookies: config.secureCookies, loginRateLimit: config.ALLOT_LOGIN_RATE_LIMIT };

  const server = await createHttpServer({
    logLevel: config.LOG_LEVEL,
    trustProxy: config.ALLOT_TRUST_PROXY === "none" ? false : config.ALLOT_TRUST_PROXY,
    version,
    auth: { accessService: services.accessService, authenticateScim: services.scimService.authenticate, resolveTenant: services.tenantsService.resolve },
    readiness: async () => {
      await sql`select 1`.execute(database.db);
      return true;
    },
    graphRoutes: [
      (app: App) => registerDirectoryRoutes(app, services),
      (app: App) => registerAuditRoutes(app, services),
      (app: App, v) => {
        if (v === "beta") registerAdminRoutes(app, routeDeps);
      },
      (app: App, v) => {
        if (v === "beta") registerScimTokenRoutes(app, services);
      },
      (app: App, v) => {
        if (v === "beta") registerImportRoutes(app, services);
      },
      (app: App, v) => {
        if (v === "beta") registerBackupRoutes(app, { backupService });
      },
    ],
    rootRoutes: [(app: App) => registerScimRoutes(app, services), (app: App) => registerAuthRoutes(app, routeDeps), (app: App) => registerConsoleRoutes(app)],
  });

  const publicUrl = config.ALLOT_PUBLIC_URL ?? `http://${config.HOST}:${config.PORT}`;
  const bootstrapResult = await bootstrap(config, { ...services, db: database.db }, publicUrl);

  // Bulk imports: stop writing when the server closes; continue any import a stopped process left running.
  services.importsService.reportErrorsTo((err, importId) => server.log.error({ err, importId }, "import failed"));
  server.addHook("onClose", async () => services.importsService.stop());
  services.importsService.resumePending().catch((err) => server.log.error({ err }, "resuming imports failed"));

  return {
    config,
    database,
    server,
    services,
    bootstrapResult,
    close: async () => {
      await server.close();
      if (!options.database) await database.close();
    },
  };
}
