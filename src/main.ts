// Composition root: config → database → repositories → services → HTTP (and, later, workers).
// The only place that wires dependencies.
import { readFileSync } from "node:fs";
import type { FastifyInstance } from "fastify";
import { sql } from "kysely";
import type { AppConfig } from "./config/env.ts";
import { createBulkWriter } from "./db/bulk.ts";
import { createDatabase, type Database } from "./db/database.ts";
import { createTableStatistics } from "./db/statistics.ts";
import { registerConsoleRoutes } from "./http/console.ts";
import { createHttpServer } from "./http/server.ts";
import type { App } from "./http/types.ts";
import { createQueue, type Queue, type RunMode } from "./jobs/queue.ts";
import { createAccessRepository } from "./modules/access/access.repository.ts";
import { registerAdminRoutes, registerAuthRoutes } from "./modules/access/access.routes.ts";
import { createAccessService } from "./modules/access/access.service.ts";
import { createLicenseAlertsService } from "./modules/alerts/alerts.licenses.ts";
import { createAlertsRepository } from "./modules/alerts/alerts.repository.ts";
import { registerAlertRoutes } from "./modules/alerts/alerts.routes.ts";
import { createAlertsService } from "./modules/alerts/alerts.service.ts";
import { createAssignmentsRepository } from "./modules/assignments/assignments.repository.ts";
import { registerAssignmentRoutes } from "./modules/assignments/assignments.routes.ts";
import { createAssignmentsService } from "./modules/assignments/assignments.service.ts";
import { createAuditRepository } from "./modules/audit/audit.repository.ts";
import { registerAuditRoutes } from "./modules/audit/audit.routes.ts";
import { createAuditService } from "./modules/audit/audit.service.ts";
import { registerBackupRoutes } from "./modules/backup/backup.routes.ts";
import { createBackupService } from "./modules/backup/backup.service.ts";
import { createCatalogRepository } from "./modules/catalog/catalog.repository.ts";
import { registerCatalogRoutes } from "./modules/catalog/catalog.routes.ts";
import { createCatalogService } from "./modules/catalog/catalog.service.ts";
import { registerHoldingsRoutes } from "./modules/console/console.holdings.routes.ts";
import { registerConsoleSummaryRoutes } from "./modules/console/console.routes.ts";
import { createDirectoryRepository } from "./modules/directory/directory.repository.ts";
import { registerDirectoryRoutes } from "./modules/directory/directory.routes.ts";
import { createDirectoryService } from "./modules/directory/directory.service.ts";
import { createImportsRepository } from "./modules/imports/imports.repository.ts";
import { registerImportRoutes } from "./modules/imports/imports.routes.ts";
import { createImportsService } from "./modules/imports/imports.service.ts";
import { registerLicenseActionRoutes } from "./modules/licenses/licenses.actions.routes.ts";
import { registerAppleUserRoutes } from "./modules/licenses/licenses.apple-users.routes.ts";
import { createAppleUsersService } from "./modules/licenses/licenses.apple-users.ts";
import {
  defineLicenseJobs,
  scheduleLicenseJobs,
  watchDirectoryChanges,
} from "./modules/licenses/licenses.jobs.ts";
import { createPreviewService } from "./modules/licenses/licenses.preview.ts";
import { createDirectoryIndexes } from "./modules/licenses/licenses.directory.ts";
import { createLicensesRepository } from "./modules/licenses/licenses.repository.ts";
import { createRevocationService, parkRevokedHoldings } from "./modules/licenses/licenses.revoke.ts";
import { createLicensesService } from "./modules/licenses/licenses.service.ts";
import { defineMdmBridgeJobs, watchMdmBridge } from "./modules/mdm-bridge/mdm-bridge.jobs.ts";
import { createMdmBridgeRepository } from "./modules/mdm-bridge/mdm-bridge.repository.ts";
import { registerMdmBridgeRoutes } from "./modules/mdm-bridge/mdm-bridge.routes.ts";
import { createMdmBridgeService } from "./modules/mdm-bridge/mdm-bridge.service.ts";
import { defineNotificationJobs, watchDueNotifications } from "./modules/notifications/notifications.jobs.ts";
import { createNotificationsRepository } from "./modules/notifications/notifications.repository.ts";
import { registerNotificationsRoutes } from "./modules/notifications/notifications.routes.ts";
import { createNotificationsService } from "./modules/notifications/notifications.service.ts";
import { createScimRepository } from "./modules/scim/scim.repository.ts";
import { registerScimRoutes, registerScimTokenRoutes } from "./modules/scim/scim.routes.ts";
import { createScimService } from "./modules/scim/scim.service.ts";
import { defineSyncJobs, scheduleSyncJobs } from "./modules/sync/sync.jobs.ts";
import { createSyncRepository } from "./modules/sync/sync.repository.ts";
import { registerNotificationRoutes, registerSyncLicensesRoutes } from "./modules/sync/sync.routes.ts";
import { createSyncService } from "./modules/sync/sync.service.ts";
import { type BootstrapResult, bootstrap } from "./modules/tenants/bootstrap.ts";
import { createTenantsRepository } from "./modules/tenants/tenants.repository.ts";
import { createTenantsService } from "./modules/tenants/tenants.service.ts";
import { createSwitchableLogger } from "./modules/tokens/tokens.apple.ts";
import { createTokensRepository } from "./modules/tokens/tokens.repository.ts";
import { registerTokenRoutes } from "./modules/tokens/tokens.routes.ts";
import { createTokensService, parseWarningDays } from "./modules/tokens/tokens.service.ts";
import { createAppleClient } from "./stores/apple/index.ts";

export const version: string = JSON.parse(
  readFileSync(new URL("../package.json", import.meta.url), "utf8"),
).version;

export interface Allot {
  config: AppConfig;
  database: Database;
  server: FastifyInstance;
  services: ReturnType<typeof createServices>;
  bootstrapResult: BootstrapResult;
  close(): Promise<void>;
}

function createServices(config: AppConfig, database: Database, runMode: RunMode) {
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
  const scimService = createScimService({
    db,
    scimRepository,
    directoryRepository,
    directoryService,
    auditService,
  });
  const importsRepository = createImportsRepository(db, database.kind);
  const importsService = createImportsService({
    db,
    importsRepository,
    auditService,
    engine: database.kind,
    dataDir: config.dataDir,
    chunkRows: config.ALLOT_IMPORT_CHUNK_ROWS,
  });
  const alertsRepository = createAlertsRepository(db);
  const alertsService = createAlertsService({ db, alertsRepository, auditService });
  // Licensing alerts (EUX-3): licenses running out, waitlist growing — checked after every reconcile.
  const licenseAlertsService = createLicenseAlertsService({
    db,
    alertsRepository,
    alertsService,
    auditService,
  });
  // One Apple client per process: its service-config cache and per-token rate limiters are shared by everyone calling Apple.
  const appleLogger = createSwitchableLogger();
  const appleClient = createAppleClient({
    baseUrl: config.ALLOT_APPLE_BASE_URL,
    metadataUrl: config.ALLOT_APPLE_METADATA_URL,
    logger: appleLogger,
  });
  const tokensRepository = createTokensRepository(db);
  const tokensService = createTokensService({
    db,
    tokensRepository,
    auditService,
    alertsService,
    appleClient,
    secretKey: config.secretKey,
    publicUrl: config.ALLOT_PUBLIC_URL,
    maxTokensPerTenant: config.ALLOT_MAX_TOKENS_PER_TENANT,
    expiryWarningDays: parseWarningDays(config.ALLOT_TOKEN_EXPIRY_WARNING_DAYS),
    logger: appleLogger,
  });
  // Background jobs (pg-boss): producers everywhere, consumers only when runMode is all|worker.
  const jobsLogger = createSwitchableLogger();
  const queue: Queue = createQueue({ database, runMode, logger: jobsLogger });
  const syncRepository = createSyncRepository(db);
  // Bulk writers (ledger, sync mirror) report their rows here; stale tables are analyzed.
  const tableStatistics = createTableStatistics(db);
  const syncService = createSyncService({
    statistics: tableStatistics,
    db,
    syncRepository,
    auditService,
    queue,
    tokens: tokensService,
    logger: () => jobsLogger,
    intervalHours: config.ALLOT_SYNC_INTERVAL_HOURS,
    eventPollSeconds: config.ALLOT_APPLE_EVENT_POLL_SECONDS,
  });
  defineSyncJobs(queue, {
    syncService,
    tokens: tokensService,
    eventPollSeconds: config.ALLOT_APPLE_EVENT_POLL_SECONDS,
  });
  tokensService.onTokenSaved((e) => syncService.onTokenSaved(e.tenantId, e.tokenId));
  const catalogRepository = createCatalogRepository(db);
  const catalogService = createCatalogService({ db, catalogRepository, auditService });
  const assignmentsRepository = createAssignmentsRepository(db);
  const assignmentsService = createAssignmentsService({ db, assignmentsRepository, auditService });
  // License ledger (ENG-3, ENG-8): reconciles on assignment changes, directory changes and after full syncs; the outbox worker talks to Apple.
  const licensesRepository = createLicensesRepository(db, createBulkWriter(database));
  // One whole-directory index at a time, shared by full reconciles and the MDM bridge.
  const directoryIndexes = createDirectoryIndexes(licensesRepository);
  const licensesService = createLicensesService({
    db,
    licensesRepository,
    tokens: tokensService,
    refreshUntrackedCounts: (tenantId, tokenId) =>
      syncRepository.refreshUntrackedCounts(db, tenantId, tokenId),
    logger: () => jobsLogger,
    eventPollMs: config.ALLOT_APPLE_EVENT_POLL_SECONDS * 1000,
    adjustHoldings: (tenantId, appId, holdings) => parkRevokedHoldings(db, tenantId, appId, holdings),
    // ENG-4: invitations of Apple users go to the users through the notifications outbox (e-mail, webhooks).
    invitationTemplate: async () => (await appleClient.serviceConfig()).urls.invitationEmail,
    enqueueUserMessage: (trx, tenantId, m) =>
      notificationsService.enqueue(trx, tenantId, { audience: "user", ...m }),
    uninstallTimeoutMs: config.ALLOT_UNINSTALL_TIMEOUT_SECONDS * 1000,
    // The outbox sizes its request groups by Apple's current limits (service config).
    writeLimits: () => appleClient.limits(),
    writeConcurrency: database.kind === "postgres" ? 2 : 1,
    directoryIndexes,
    statistics: tableStatistics,
  });
  // Revocation (REV-1/2) through the ledger and the outbox; dry runs and the prompt matrix (ENG-7, EUX-1).
  const revocationService = createRevocationService({
    db,
    licensesRepository,
    auditService,
    kickOutbox: (tenantId) => queue.send("licenses-outbox", { tenantId }, { singletonKey: tenantId }),
    enqueueNotification: (trx, tenantId, n) => notificationsService.enqueue(trx, tenantId, n),
  });
  const previewService = createPreviewService({ db, licensesRepository });
  const appleUsersService = createAppleUsersService({ licensesRepository });
  licensesService.onReconciled((tenantId, appIds) => licenseAlertsService.check(tenantId, appIds));
  defineLicenseJobs(queue, { licensesService, pollSeconds: 0.5 });
  // Notifications (EUX-3): every alert also becomes a message to administrators (e-mail, webhooks).
  const notificationsRepository = createNotificationsRepository(db);
  const notificationsService = createNotificationsService({
    db,
    notificationsRepository,
    auditService,
    secretKey: config.secretKey,
    smtpUrl: config.ALLOT_SMTP_URL ?? null,
    mailFrom: config.ALLOT_MAIL_FROM,
    retryBaseMs: config.ALLOT_NOTIFY_RETRY_BASE_MS,
    maxAttempts: config.ALLOT_NOTIFY_MAX_ATTEMPTS,
  });
  alertsService.onRaised((ex, tenantId, a) =>
    notificationsService.enqueue(ex, tenantId, {
      audience: "admin",
      kind: a.kind,
      subject: a.title,
      body: a.message,
      data: { alertId: a.id, severity: a.severity, resourceType: a.resourceType, resourceId: a.resourceId },
    }),
  );
  defineNotificationJobs(queue, { notificationsService, pollSeconds: 0.5 });
  // MDM bridge (MDM-1): device commands from the ledger to the MDM webhook; install reports and requests back.
  const mdmBridgeRepository = createMdmBridgeRepository(db);
  const mdmBridgeService = createMdmBridgeService({
    db,
    mdmBridgeRepository,
    licensesRepository,
    directoryIndexes,
    licensesService,
    auditService,
    kickLicensesOutbox: (tenantId) => queue.send("licenses-outbox", { tenantId }, { singletonKey: tenantId }),
    tenantWebhook: (tenantId) => notificationsService.mdmWebhookOf(tenantId),
    notifyUser: (trx, tenantId, userId, kind, subject, body, data) =>
      notificationsService.enqueue(trx, tenantId, { audience: "user", kind, userId, subject, body, data }),
    raiseAlert: (trx, tenantId, alert) => alertsService.raise(trx, tenantId, alert),
    defaultWebhook: config.ALLOT_MDM_WEBHOOK_URL
      ? { url: config.ALLOT_MDM_WEBHOOK_URL, secret: config.ALLOT_MDM_WEBHOOK_SECRET ?? null }
      : null,
    retryBaseMs: config.ALLOT_NOTIFY_RETRY_BASE_MS,
    maxAttempts: config.ALLOT_NOTIFY_MAX_ATTEMPTS,
    // PGlite has one session: the slices' reads would queue behind the outbox's for the whole push.
    sliceMaxHolders: config.ALLOT_MDM_SLICE_MAX_HOLDERS ?? (database.kind === "postgres" ? 2000 : 200),
    uninstallTimeoutMs: config.ALLOT_UNINSTALL_TIMEOUT_SECONDS * 1000,
    reconcileLater: (tenantId, appId, delayMs) =>
      queue.send(
        "licenses-reconcile",
        { tenantId, appId, reason: "uninstallTimeout" },
        { startAfter: Math.ceil(delayMs / 1000) },
      ),
    logger: () => jobsLogger,
  });
  defineMdmBridgeJobs(queue, { mdmBridgeService, pollSeconds: 0.5 });
  assignmentsService.onAssignmentsChanged(async (tenantId, appId) => {
    await queue.send("mdm-commands", { tenantId, appId });
  });
  assignmentsService.onAssignmentsChanged(async (tenantId, appId) => {
    await queue.send("licenses-reconcile", { tenantId, appId, reason: "assignments" });
  });
  syncService.onSyncCompleted(async (e) => {
    if (e.full)
      await queue.send("licenses-reconcile", { tenantId: e.tenantId, appId: null, reason: "fullSync" });
  });
  // UPD-1: a sync that recorded newer store versions → update commands / updateAvailable + administrator alert.
  syncService.onSyncCompleted((e) => mdmBridgeService.processNewVersions(e.tenantId, e.tokenId));
  // A purchase or refund (ASSET_COUNT) reconciles that app at once: waiting members are served within seconds.
  syncService.onCountsChanged((e) =>
    queue.send("licenses-reconcile", { tenantId: e.tenantId, appId: e.appId, reason: "counts" }),
  );
  return {
    appleUsersService,
    licenseAlertsService,
    notificationsRepository,
    notificationsService,
    mdmBridgeRepository,
    mdmBridgeService,
    revocationService,
    previewService,
    licensesRepository,
    licensesService,
    assignmentsRepository,
    assignmentsService,
    jobsLogger,
    queue,
    syncRepository,
    syncService,
    catalogRepository,
    catalogService,
    alertsRepository,
    alertsService,
    appleLogger,
    appleClient,
    tokensRepository,
    tokensService,
    importsRepository,
    importsService,
    auditRepository,
    accessRepository,
    tenantsRepository,
    directoryRepository,
    auditService,
    tenantsService,
    accessService,
    directoryService,
    scimRepository,
    scimService,
  };
}

/** Builds a complete Allot (database migrated, bootstrap done, routes registered) without listening. */
export async function createAllot(
  config: AppConfig,
  options: { database?: Database; runMode?: RunMode } = {},
): Promise<Allot> {
  // all: API and jobs; api: API only (jobs are sent, not run); worker: jobs, and only /healthz, /readyz, /metrics over HTTP.
  const runMode = options.runMode ?? config.RUN_MODE;
  const database =
    options.database ??
    (await createDatabase(
      config.database.kind === "postgres"
        ? { kind: "postgres", url: config.database.url }
        : { kind: "pglite", dataDir: config.database.dataDir },
    ));
  const services = createServices(config, database, runMode);
  const backupService = createBackupService({ database, tenantsService: services.tenantsService });
  const routeDeps = {
    ...services,
    secureCookies: config.secureCookies,
    loginRateLimit: config.ALLOT_LOGIN_RATE_LIMIT,
  };

  const server = await createHttpServer({
    logLevel: config.LOG_LEVEL,
    trustProxy: config.ALLOT_TRUST_PROXY === "none" ? false : config.ALLOT_TRUST_PROXY,
    opsOnly: runMode === "worker",
    version,
    auth: {
      accessService: services.accessService,
      authenticateScim: services.scimService.authenticate,
      resolveTenant: services.tenantsService.resolve,
    },
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
      (app: App, v) => registerTokenRoutes(app, v, services),
      (app: App) => registerSyncLicensesRoutes(app, services),
      (app: App, v) => registerCatalogRoutes(app, v, services),
      (app: App, v) => registerAssignmentRoutes(app, v, services),
      (app: App, v) => {
        if (v === "beta") registerLicenseActionRoutes(app, { db: database.db, ...services });
      },
      (app: App, v) => {
        if (v === "beta") registerConsoleSummaryRoutes(app, { db: database.db });
        if (v === "beta") registerHoldingsRoutes(app, { db: database.db });
      },
      (app: App, v) => {
        if (v === "beta") registerAppleUserRoutes(app, services);
      },
      (app: App, v) => {
        if (v === "beta") registerAlertRoutes(app, services);
      },
      (app: App, v) => {
        if (v === "beta") registerNotificationsRoutes(app, services);
      },
      (app: App, v) => {
        if (v === "beta") registerMdmBridgeRoutes(app, services);
      },
    ],
    rootRoutes: [
      (app: App) => registerScimRoutes(app, services),
      (app: App) => registerAuthRoutes(app, routeDeps),
      (app: App) => registerConsoleRoutes(app),
      (app: App) => registerNotificationRoutes(app, services),
    ],
  });

  const publicUrl = config.ALLOT_PUBLIC_URL ?? `http://${config.HOST}:${config.PORT}`;
  const bootstrapResult = await bootstrap(config, { ...services, db: database.db }, publicUrl);

  // Bulk imports: stop writing when the server closes; continue any import a stopped process left running.
  services.importsService.reportErrorsTo((err, importId) =>
    server.log.error({ err, importId }, "import failed"),
  );
  services.assignmentsService.reportErrorsTo((err, tenantId, appId) =>
    server.log.error({ err, tenantId, appId }, "reacting to an assignment change failed"),
  );
  server.addHook("onClose", async () => services.importsService.stop());
  services.importsService
    .resumePending()
    .catch((err) => server.log.error({ err }, "resuming imports failed"));

  // Tokens: Apple client logs go to the server log; expiry check once at start (the scheduler repeats it daily).
  services.appleLogger.use(server.log);
  const expiryCheck =
    runMode === "api"
      ? undefined
      : services.tokensService
          .checkExpiries()
          .catch((err) => server.log.error({ err }, "token expiry check failed"));
  server.addHook("onClose", async () => {
    await expiryCheck;
    await services.tokensService.whenIdle();
  });

  // Jobs last, once everything they use exists; stopped when the server closes (before the database).
  services.jobsLogger.use(server.log);
  server.addHook("onClose", async () => {
    await services.queue.stop();
    // Alert checks a reconcile left running (they read and write the database too).
    await services.licensesService.listenersIdle();
  });
  try {
    await services.queue.start();
    await scheduleSyncJobs(services.queue);
    await scheduleLicenseJobs(services.queue);
    const stopWatching = watchDirectoryChanges(services.queue, services.licensesService, 1000, (err) =>
      server.log.warn({ err }, "checking directory changes failed"),
    );
    server.addHook("onClose", async () => stopWatching());
    const onWatchError = (err: unknown) =>
      server.log.warn({ err }, "checking notification or MDM work failed");
    const stopNotifications = watchDueNotifications(
      services.queue,
      services.notificationsService,
      500,
      onWatchError,
    );
    const stopMdm = watchMdmBridge(services.queue, services.mdmBridgeService, 1000, onWatchError);
    server.addHook("onClose", async () => {
      stopNotifications();
      stopMdm();
    });
  } catch (err) {
    await server.close();
    throw err;
  }

  return {
    config,
    database,
    server,
    services,
    bootstrapResult,
    close: async () => {
      // A client that stops reading (a stalled download) would keep close() waiting for ever: give
      // requests in flight a few seconds, then cut what is left.
      const cut = setTimeout(() => server.server.closeAllConnections(), 5_000);
      cut.unref();
      await server.close();
      clearTimeout(cut);
      if (!options.database) await database.close();
    },
  };
}
