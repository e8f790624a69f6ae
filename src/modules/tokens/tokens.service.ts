// Apple VPP location tokens (TOK-1..8): upload, renewal, settings, deletion, expiry, and the
// per-token Apple client the sync uses. Apple is called before and outside any transaction; each
// change is one short transaction with its audit entry (and alert, when administrators must know).
//
// Upload: decode the file → read its location at Apple (GET /client/config) → refuse a location of
// another tenant (409), mark one already in this tenant duplicateLocationId (no Apple write), refuse a
// token another MDM manages unless the administrator consents → allocate the id and a notification
// secret, set Allot's mdmInfo and notification endpoint (Apple's TEST_NOTIFICATION during that call
// is accepted through `pendingUploads`) → insert. The sToken is stored AES-256-GCM encrypted; the
// notification secret only as a hash.
import { randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import type { DB } from "../../db/types.ts";
import { type Ctx, systemActor } from "../../http/context.ts";
import { type ListOptions, runList } from "../../http/odata/query.ts";
import {
  decryptSecret,
  encryptSecret,
  hashSecret,
  randomSecret,
  safeEqual,
  secretFingerprint,
} from "../../lib/crypto.ts";
import { badRequest, conflict, notFound } from "../../lib/errors.ts";
import {
  type AppleClient,
  type AppleLogger,
  type AppleTokenClient,
  AppleTokenFormatError,
  type AppleTokenProblem,
  type DecodedSToken,
  decodeSToken,
  type MdmInfo,
} from "../../stores/apple/index.ts";
import type { AlertsService } from "../alerts/alerts.service.ts";
import type { Executor } from "../audit/audit.repository.ts";
import type { AuditEntry, AuditService } from "../audit/audit.service.ts";
import {
  claimToken,
  inspectToken,
  mdmIdFor,
  mdmInfoFor,
  notificationUrlFor,
  type TokenInspection,
  withoutWrites,
} from "./tokens.apple.ts";
import {
  type ApiVersion,
  type ClaimRecord,
  claimRecordOf,
  VPP_TOKEN,
  type VppTokenRow,
  vppTokenAuditShape,
  vppTokenEntity,
  vppTokenToGraph,
} from "./tokens.entities.ts";
import type { InfoRow, TokensRepository, VppTokenUpdate } from "./tokens.repository.ts";
import type { VppTokenInput } from "./tokens.schemas.ts";

export interface TokensServiceDeps {
  db: Kysely<DB>;
  tokensRepository: TokensRepository;
  auditService: AuditService;
  alertsService: AlertsService;
  appleClient: AppleClient;
  /** The instance key (config.secretKey): encryption at rest and Allot's mdmInfo id derive from it. */
  secretKey: Buffer;
  /** ALLOT_PUBLIC_URL; notifications are registered only when it is https or loopback http. */
  publicUrl: string | undefined;
  maxTokensPerTenant: number;
  /** Days before expiry at which administrators are warned (TOK-4), e.g. [30, 14, 7, 1]. */
  expiryWarningDays: number[];
  logger?: AppleLogger;
}

export interface TokenSavedEvent {
  tenantId: string;
  tokenId: string;
  reason: "upload" | "renewal" | "reclaim";
}
export interface TokenDeletedEvent {
  tenantId: string;
  tokenId: string;
}

/** What the sync needs to know about a token; nothing secret. */
export interface TokenInfo {
  tenantId: string;
  id: string;
  state: VppTokenRow["state"];
  displayName: string | null;
  organizationName: string | null;
  locationName: string | null;
  locationId: string;
  appleId: string | null;
  /** Storefront country for metadata lookups, lower case (TOK-6: read at every sync). */
  countryOrRegion: string;
  accountType: "business" | "education";
  automaticallyUpdateApps: boolean;
  notificationsEnabled: boolean;
  expirationAt: Date;
  syncIntervalHours: number | null;
  nextSyncAt: Date | null;
  lastSyncAt: Date | null;
  lastFullSyncAt: Date | null;
  lastSyncStatus: VppTokenRow["last_sync_status"];
  assetsVersionId: string | null;
  assignmentsVersionId: string | null;
  usersVersionId: string | null;
}

export interface SyncStatusUpdate {
  status: "inProgress" | "completed" | "failed";
  /** When the sync finished (completed/failed); default now. */
  at?: Date;
  /** A full sync (sets lastFullSyncAt on completion). */
  full?: boolean;
  /** Failure text for administrators; never include secrets. */
  error?: string | null;
  nextSyncAt?: Date | null;
}

export interface VersionIds {
  assets?: string | null;
  assignments?: string | null;
  users?: string | null;
}

export interface NotificationTarget {
  tenantId: string;
  tokenId: string;
  /** The token is being uploaded or renewed right now (the row may not exist yet): acknowledge, do nothing else. */
  pending: boolean;
}

const uuidRe = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DAY = 86_400_000;
const silent: AppleLogger = { debug() {}, info() {}, warn() {}, error() {} };

const nameOf = (r: Pick<VppTokenRow, "display_name" | "location_name" | "organization_name" | "id">) =>
  r.display_name ?? r.location_name ?? r.organization_name ?? r.id;
const cipherContext = (tenantId: string, id: string) => `vpp_tokens:${tenantId}:${id}`;
const systemCtx = (tenantId: string): Ctx => ({ tenantId, actor: systemActor, requestId: randomUUID() });

function decodeOrRefuse(fileContent: string): DecodedSToken {
  try {
    return decodeSToken(fileContent);
  } catch (error) {
    if (error instanceof AppleTokenFormatError)
      throw badRequest(
        `The value of 'token' is not a VPP token file (${error.message.replace(/^not an Apple content token: /, "")}); paste the content of the .vpptoken file. Nothing was saved.`,
      );
    throw error;
  }
}

function checkExtras(body: VppTokenInput): void {
  if (body.dataSharingConsentGranted === false)
    throw badRequest(
      "dataSharingConsentGranted cannot be false: assigning licenses sends device serial numbers and user ids to Apple.",
    );
  if (body.roleScopeTagIds?.some((t) => t !== "0"))
    throw badRequest("Only the default scope tag '0' exists; roleScopeTagIds may hold nothing else.");
  if (
    body.appleDeviceAppDeliveryProtocolType !== undefined &&
    body.appleDeviceAppDeliveryProtocolType !== "default"
  )
    throw badRequest(
      "appleDeviceAppDeliveryProtocolType must be 'default': Allot does not deliver apps to devices itself.",
    );
}

export function createTokensService(deps: TokensServiceDeps) {
  const { db, tokensRepository: repo, auditService, alertsService, appleClient: apple, secretKey } = deps;
  const log = deps.logger ?? silent;
  const maxDays = [...new Set(deps.expiryWarningDays)].filter((d) => d > 0).sort((a, b) => b - a);

  /** Uploads and renewals in flight: Apple's TEST_NOTIFICATION for them arrives before the row is committed. */
  const pendingUploads = new Map<string, { tenantId: string; secretHash: string }>();
  const savedHandlers: ((e: TokenSavedEvent) => void | Promise<void>)[] = [];
  const deletedHandlers: ((e: TokenDeletedEvent) => void | Promise<void>)[] = [];
  const work = new Set<Promise<void>>();

  function track(p: Promise<unknown>, what: string): void {
    const q: Promise<void> = p
      .then(() => undefined)
      .catch((err: unknown) => log.error({ err: err instanceof Error ? err.message : String(err) }, what))
      .finally(() => work.delete(q));
    work.add(q);
  }

  function emitSaved(e: TokenSavedEvent): void {
    for (const h of savedHandlers)
      track(
        Promise.resolve().then(() => h(e)),
        "token-saved handler failed",
      );
  }

  async function load(ex: Executor, tenantId: string, id: string): Promise<VppTokenRow> {
    const row = uuidRe.test(id) ? await repo.find(ex, tenantId, id) : undefined;
    if (!row) throw notFound("vppToken", id);
    return row;
  }

  const limitMessage = () =>
    `This tenant already has ${deps.maxTokensPerTenant} VPP tokens, the most allowed (ALLOT_MAX_TOKENS_PER_TENANT). Delete one first. Nothing was saved.`;

  function otherMdmOf(insp: TokenInspection, ourId: string): MdmInfo | undefined {
    return insp.mdmInfo && insp.mdmInfo.id !== ourId ? insp.mdmInfo : undefined;
  }

  function refuseOtherMdm(other: MdmInfo, version: ApiVersion): never {
    throw conflict(
      `This token is managed by another MDM ('${other.name}'). Only one service may manage a location.` +
        (version === "beta"
          ? " To move it to Allot, send it again with claimTokenManagementFromExternalMdm: true (the other MDM loses it)."
          : " To move it to Allot, use /beta with claimTokenManagementFromExternalMdm: true (the other MDM loses it).") +
        " Nothing was saved.",
    );
  }

  /** Sets Allot's mdmInfo (and notification endpoint) on the location, with the TEST_NOTIFICATION accepted meanwhile. */
  async function claim(tenantId: string, tokenId: string, sToken: string) {
    const secret = randomSecret(32);
    const secretHash = hashSecret(secret);
    const url = notificationUrlFor(deps.publicUrl, tokenId);
    if (url) pendingUploads.set(tokenId, { tenantId, secretHash });
    try {
      const r = await claimToken(
        apple,
        sToken,
        mdmInfoFor(secretKey, tenantId, deps.publicUrl),
        url ? { url, secret } : undefined,
        log,
      );
      return {
        notificationsEnabled: r.notificationsEnabled,
        secretHash: r.notificationsEnabled ? secretHash : null,
      };
    } catch (error) {
      pendingUploads.delete(tokenId);
      throw error;
    }
  }

  function tokenAuditEntries(
    activity: string,
    operation: AuditEntry["operation"],
    row: VppTokenRow,
    before: VppTokenRow | null,
    takenOverFrom?: MdmInfo,
  ): AuditEntry[] {
    const entries: AuditEntry[] = [
      {
        activity,
        component: "Tokens",
        operation,
        changes: [
          {
            type: VPP_TOKEN,
            id: row.id,
            displayName: nameOf(row),
            before: before ? vppTokenAuditShape(before) : null,
            after: vppTokenAuditShape(row),
          },
        ],
      },
    ];
    if (takenOverFrom)
      entries.push({
        activity: "Take over VPP token from another MDM",
        component: "Tokens",
        operation: "Action",
        changes: [
          {
            type: VPP_TOKEN,
            id: row.id,
            displayName: nameOf(row),
            before: { managedBy: takenOverFrom.name },
            after: { managedBy: "Allot" },
          },
        ],
      });
    return entries;
  }

  // --- state changes seen on Apple's answers (per-token client hooks) ------------------------------

  async function markExternal(tenantId: string, tokenId: string, info: MdmInfo): Promise<void> {
    await db.transaction().execute(async (trx) => {
      const before = await repo.find(trx, tenantId, tokenId);
      if (!before) return;
      const record: ClaimRecord = { ...claimRecordOf(before), otherMdm: { id: info.id, name: info.name } };
      const after = await repo.setStateIfDifferent(trx, tenantId, tokenId, "assignedToExternalMDM", {
        state_reason: `managed by another MDM: ${info.name}`,
        external_mdm: JSON.stringify(record),
      });
      if (!after) return;
      await alertsService.raise(trx, tenantId, {
        kind: "vppTokenAssignedToExternalMdm",
        severity: "critical",
        title: `VPP token '${nameOf(after)}' is now managed by another MDM`,
        message:
          `Apple reports that '${info.name}' now manages the location '${after.location_name ?? after.location_id}'. Allot has stopped assigning and revoking licenses with this token. ` +
          `To take it back, PATCH /beta/deviceAppManagement/vppTokens/${tokenId} with claimTokenManagementFromExternalMdm: true (the other MDM then loses it).`,
        resourceType: VPP_TOKEN,
        resourceId: tokenId,
      });
      await auditService.record(
        trx,
        systemCtx(tenantId),
        tokenAuditEntries("VPP token claimed by another MDM", "Action", after, before),
      );
    });
  }

  async function markProblem(
    tenantId: string,
    tokenId: string,
    problem: AppleTokenProblem,
    errorNumber: number | undefined,
  ): Promise<void> {
    const state = problem === "expired" ? "expired" : "invalid";
    await db.transaction().execute(async (trx) => {
      const before = await repo.find(trx, tenantId, tokenId);
      if (!before) return;
      const after = await repo.setStateIfDifferent(trx, tenantId, tokenId, state, {
        state_reason: `${problem} (Apple error ${errorNumber ?? "?"})`,
      });
      if (!after) return;
      const what =
        problem === "expired"
          ? "has expired"
          : problem === "revoked"
            ? "was revoked by Apple"
            : "is no longer valid";
      await alertsService.raise(trx, tenantId, {
        kind: problem === "expired" ? "vppTokenExpired" : "vppTokenInvalid",
        severity: "critical",
        title: `VPP token '${nameOf(after)}' ${what}`,
        message:
          `Apple refused the token for '${after.location_name ?? after.location_id}' (error ${errorNumber ?? "?"}: ${problem}). Syncs and license changes with it stop. ` +
          (problem === "revoked"
            ? "A newer token was downloaded for this location: "
            : "Download a new token in Apple Business Manager or Apple School Manager and ") +
          `upload it onto this token (PATCH /deviceAppManagement/vppTokens/${tokenId} with 'token').`,
        resourceType: VPP_TOKEN,
        resourceId: tokenId,
      });
      await auditService.record(
        trx,
        systemCtx(tenantId),
        tokenAuditEntries(
          problem === "expired" ? "Mark VPP token expired" : "Mark VPP token invalid",
          "Action",
          after,
          before,
        ),
      );
    });
  }

  function infoOf(r: InfoRow): TokenInfo {
    return {
      tenantId: r.tenant_id,
      id: r.id,
      state: r.state,
      displayName: r.display_name,
      organizationName: r.organization_name,
      locationName: r.location_name,
      locationId: r.location_id,
      appleId: r.apple_id,
      countryOrRegion: r.country_or_region,
      accountType: r.account_type,
      automaticallyUpdateApps: r.automatically_update_apps,
      notificationsEnabled: r.notifications_enabled,
      expirationAt: new Date(r.expiration_at),
      syncIntervalHours: r.sync_interval_hours,
      nextSyncAt: r.next_sync_at ? new Date(r.next_sync_at) : null,
      lastSyncAt: r.last_sync_at ? new Date(r.last_sync_at) : null,
      lastFullSyncAt: r.last_full_sync_at ? new Date(r.last_full_sync_at) : null,
      lastSyncStatus: r.last_sync_status,
      assetsVersionId: r.assets_version_id,
      assignmentsVersionId: r.assignments_version_id,
      usersVersionId: r.users_version_id,
    };
  }

  async function getTokenInfo(
    tenantId: string,
    tokenId: string,
    ex: Executor = db,
  ): Promise<TokenInfo | undefined> {
    const r = uuidRe.test(tokenId) ? await repo.findInfo(ex, tenantId, tokenId) : undefined;
    return r ? infoOf(r) : undefined;
  }

  return {
    /** Allot's mdmInfo.id for the tenant (what Apple echoes while Allot manages a token). */
    mdmId: (tenantId: string) => mdmIdFor(secretKey, tenantId),

    async list(ctx: Ctx, version: ApiVersion, options: ListOptions) {
      const r = await runList(repo.listQuery(ctx.tenantId), "t", vppTokenEntity(version), options);
      return {
        items: r.rows.map((row) => vppTokenToGraph(row as unknown as VppTokenRow, version)),
        count: r.count,
        skiptoken: r.skiptoken,
      };
    },

    /** The Graph object (`token` always null). */
    async getToken(ctx: Ctx, id: string, version: ApiVersion = "beta") {
      return vppTokenToGraph(await load(db, ctx.tenantId, id), version);
    },

    /** TOK-1, TOK-2, TOK-5: the upload table of issue 3. */
    async upload(ctx: Ctx, version: ApiVersion, body: VppTokenInput & { token: string }) {
      checkExtras(body);
      const decoded = decodeOrRefuse(body.token);
      const tenantId = ctx.tenantId;
      if ((await repo.countForTenant(db, tenantId)) >= deps.maxTokensPerTenant)
        throw badRequest(limitMessage());

      const insp = await inspectToken(apple, decoded.sToken);
      const locationLabel = insp.locationName ? `'${insp.locationName}'` : `with id ${insp.locationId}`;
      const otherTenantMessage = `The location ${locationLabel} of this token is already used by another tenant of this Allot instance; a location can serve only one tenant. Nothing was saved.`;
      const sameLocation = await repo.findByLocation(db, insp.locationId);
      if (sameLocation.some((r) => r.tenant_id !== tenantId)) throw conflict(otherTenantMessage);
      const duplicate = sameLocation.length > 0;

      const country = (body.countryOrRegion ?? insp.countryISO2ACode)?.toLowerCase();
      if (!country)
        throw badRequest(
          "Apple did not name the location's country: send countryOrRegion (ISO 3166 alpha-2). Nothing was saved.",
        );
      const ourId = mdmIdFor(secretKey, tenantId);
      const id = randomUUID();
      const record: ClaimRecord = { claimConsent: body.claimTokenManagementFromExternalMdm === true };
      let takenOverFrom: MdmInfo | undefined;
      let claimed = { notificationsEnabled: false, secretHash: null as string | null };
      if (!duplicate) {
        const other = otherMdmOf(insp, ourId);
        if (other && body.claimTokenManagementFromExternalMdm !== true) refuseOtherMdm(other, version);
        if (other) {
          takenOverFrom = other;
          record.takenOverFrom = { id: other.id, name: other.name };
          record.takenOverAt = new Date().toISOString();
        }
        claimed = await claim(tenantId, id, decoded.sToken);
      }

      try {
        const row = await db.transaction().execute(async (trx) => {
          await repo.lock(trx, `vpp-location:${insp.locationId}`);
          await repo.lock(trx, `vpp-tenant:${tenantId}`);
          const now = await repo.findByLocation(trx, insp.locationId);
          if (now.some((r) => r.tenant_id !== tenantId)) throw conflict(otherTenantMessage);
          if ((await repo.countForTenant(trx, tenantId)) >= deps.maxTokensPerTenant)
            throw badRequest(limitMessage());
          const inserted = await repo.insert(trx, {
            tenant_id: tenantId,
            id,
            display_name: body.displayName ?? null,
            organization_name: decoded.orgName || null,
            location_name: insp.locationName,
            location_id: insp.locationId,
            token_ciphertext: encryptSecret(decoded.sToken, secretKey, cipherContext(tenantId, id)),
            token_fingerprint: secretFingerprint(decoded.sToken, secretKey, "vpp-token"),
            apple_id: body.appleId ?? null,
            country_or_region: country,
            account_type:
              body.vppTokenAccountType ?? (insp.defaultPlatform === "volumestore" ? "education" : "business"),
            automatically_update_apps: body.automaticallyUpdateApps ?? false,
            state: now.length > 0 ? "duplicateLocationId" : "valid",
            state_reason: now.length > 0 ? `same location as token ${now[0].id}` : null,
            expiration_at: new Date(insp.expirationDate ?? decoded.expDate),
            notification_secret_hash: claimed.secretHash,
            notifications_enabled: claimed.notificationsEnabled,
            external_mdm: JSON.stringify(record),
          });
          await auditService.record(
            trx,
            ctx,
            tokenAuditEntries("Upload VPP token", "Create", inserted, null, takenOverFrom),
          );
          return inserted;
        });
        emitSaved({ tenantId, tokenId: id, reason: "upload" });
        return vppTokenToGraph(row, version);
      } finally {
        pendingUploads.delete(id);
      }
    },

    /** PATCH: settings; a new `token` renews (TOK-4: same location only); on beta, consent re-claims a token another MDM took. */
    async update(ctx: Ctx, id: string, version: ApiVersion, body: VppTokenInput) {
      checkExtras(body);
      const tenantId = ctx.tenantId;
      const current = await load(db, tenantId, id);
      const ourId = mdmIdFor(secretKey, tenantId);
      const set: VppTokenUpdate = {};
      let takenOverFrom: MdmInfo | undefined;
      let reason: TokenSavedEvent["reason"] | undefined;
      let record: ClaimRecord = claimRecordOf(current);
      if (body.claimTokenManagementFromExternalMdm !== undefined)
        record = { ...record, claimConsent: body.claimTokenManagementFromExternalMdm };

      const reclaim = async (sToken: string, insp: TokenInspection) => {
        const other = otherMdmOf(insp, ourId);
        if (other && body.claimTokenManagementFromExternalMdm !== true) refuseOtherMdm(other, version);
        if (other) {
          takenOverFrom = other;
          record = {
            ...record,
            otherMdm: null,
            takenOverFrom: { id: other.id, name: other.name },
            takenOverAt: new Date().toISOString(),
          };
        } else record = { ...record, otherMdm: null };
        if (current.state === "duplicateLocationId") return;
        const claimed = await claim(tenantId, id, sToken);
        set.notifications_enabled = claimed.notificationsEnabled;
        set.notification_secret_hash = claimed.secretHash;
      };

      try {
        if (body.token !== undefined) {
          const decoded = decodeOrRefuse(body.token);
          const insp = await inspectToken(apple, decoded.sToken);
          if (insp.locationId !== current.location_id)
            throw badRequest(
              `The new token is for another location (${insp.locationName ? `'${insp.locationName}'` : insp.locationId}) than this token (${current.location_name ? `'${current.location_name}'` : current.location_id}). ` +
                "A renewal must be for the same location; upload a token for another location as a new token. Nothing was changed.",
            );
          await reclaim(decoded.sToken, insp);
          Object.assign(set, {
            token_ciphertext: encryptSecret(decoded.sToken, secretKey, cipherContext(tenantId, id)),
            token_fingerprint: secretFingerprint(decoded.sToken, secretKey, "vpp-token"),
            organization_name: decoded.orgName || current.organization_name,
            location_name: insp.locationName ?? current.location_name,
            expiration_at: new Date(insp.expirationDate ?? decoded.expDate),
            expiry_warnings_sent: [],
          });
          reason = "renewal";
        } else if (
          body.claimTokenManagementFromExternalMdm === true &&
          current.state === "assignedToExternalMDM"
        ) {
          const sToken = decryptSecret(current.token_ciphertext, secretKey, cipherContext(tenantId, id));
          await reclaim(sToken, await inspectToken(apple, sToken));
          reason = "reclaim";
        }

        if (body.displayName !== undefined) set.display_name = body.displayName;
        if (body.appleId !== undefined) set.apple_id = body.appleId;
        if (body.countryOrRegion !== undefined && body.countryOrRegion !== null)
          set.country_or_region = body.countryOrRegion.toLowerCase();
        if (body.vppTokenAccountType !== undefined) set.account_type = body.vppTokenAccountType;
        if (body.automaticallyUpdateApps !== undefined)
          set.automatically_update_apps = body.automaticallyUpdateApps;
        if (JSON.stringify(record) !== JSON.stringify(claimRecordOf(current)))
          set.external_mdm = JSON.stringify(record);
        if (Object.keys(set).length === 0) return vppTokenToGraph(current, version);

        const row = await db.transaction().execute(async (trx) => {
          const before = await load(trx, tenantId, id);
          if (reason) {
            const shared = (await repo.findByLocation(trx, before.location_id)).filter(
              (r) => r.id !== id && r.tenant_id === tenantId,
            );
            set.state =
              before.state === "duplicateLocationId" && shared.length > 0 ? "duplicateLocationId" : "valid";
            set.state_reason = set.state === "duplicateLocationId" ? before.state_reason : null;
          }
          const after = await repo.update(trx, tenantId, id, { ...set, last_modified_at: new Date() });
          if (!after) throw notFound("vppToken", id);
          const activity =
            reason === "renewal"
              ? "Renew VPP token"
              : reason === "reclaim"
                ? "Reclaim VPP token"
                : "Update VPP token";
          await auditService.record(
            trx,
            ctx,
            tokenAuditEntries(activity, "Patch", after, before, takenOverFrom),
          );
          return after;
        });
        if (reason) emitSaved({ tenantId, tokenId: id, reason });
        return vppTokenToGraph(row, version);
      } finally {
        pendingUploads.delete(id);
      }
    },

    /**
     * TOK-7: deletes the token, its apps and their assignments in Allot. Licenses stay assigned at
     * Apple and apps stay installed; nothing is sent to Apple.
     */
    async remove(ctx: Ctx, id: string): Promise<{ appsDeleted: number }> {
      const tenantId = ctx.tenantId;
      const result = await db.transaction().execute(async (trx) => {
        const before = await load(trx, tenantId, id);
        const appsDeleted = await repo.countApps(trx, tenantId, id);
        await repo.delete(trx, tenantId, id);
        const entries: AuditEntry[] = [
          {
            activity: "Delete VPP token",
            component: "Tokens",
            operation: "Delete",
            changes: [
              {
                type: VPP_TOKEN,
                id,
                displayName: nameOf(before),
                before: { ...vppTokenAuditShape(before), appsDeleted },
                after: null,
              },
            ],
          },
        ];
        // A token that read duplicateLocationId because of this one now stands alone.
        if (before.state !== "duplicateLocationId") {
          const next = (await repo.findByLocation(trx, before.location_id)).find(
            (r) => r.tenant_id === tenantId && r.state === "duplicateLocationId",
          );
          if (next) {
            const prev = await load(trx, tenantId, next.id);
            const promoted = await repo.setStateIfDifferent(trx, tenantId, next.id, "valid", {
              state_reason: null,
            });
            if (promoted) entries.push(...tokenAuditEntries("Update VPP token", "Patch", promoted, prev));
          }
        }
        await auditService.record(trx, ctx, entries);
        return { appsDeleted };
      });
      for (const h of deletedHandlers)
        track(
          Promise.resolve().then(() => h({ tenantId, tokenId: id })),
          "token-deleted handler failed",
        );
      return result;
    },

    /**
     * The Apple client for a stored token. Its hooks mark the token expired/invalid or
     * assignedToExternalMDM and alert administrators; for a token another MDM manages, every write
     * is refused before anything is sent (AppleMdmConflictError).
     */
    async appleFor(tenantId: string, tokenId: string): Promise<AppleTokenClient> {
      const row = await load(db, tenantId, tokenId);
      const mdmId = mdmIdFor(secretKey, tenantId);
      const client = apple.forToken(
        decryptSecret(row.token_ciphertext, secretKey, cipherContext(tenantId, tokenId)),
        {
          mdmId,
          onMdmConflict: (info) =>
            track(markExternal(tenantId, tokenId, info), "recording another MDM's claim failed"),
          onTokenProblem: (problem, error) =>
            track(
              markProblem(tenantId, tokenId, problem, error.errorNumber),
              "recording a token problem failed",
            ),
        },
      );
      if (row.state === "assignedToExternalMDM") {
        const other = claimRecordOf(row).otherMdm;
        return withoutWrites(
          client,
          mdmId,
          other ? { id: other.id, name: other.name, metadata: other.metadata ?? "" } : undefined,
        );
      }
      return client;
    },

    /** Resolves when the state changes and alerts started by Apple client hooks (and saved/deleted handlers) are done. */
    async whenIdle(): Promise<void> {
      while (work.size > 0) await Promise.all([...work]);
    },

    /** Tokens the scheduled sync visits (valid and duplicateLocationId), every tenant. */
    async listSyncableTokens(): Promise<TokenInfo[]> {
      return (await repo.listSyncable(db)).map(infoOf);
    },

    getTokenInfo,

    /**
     * Checks the bearer secret Apple sends to /notifications/apple/{tokenId}. `tenantId` may be null
     * (the URL names only the token). `bearer` is the secret or the whole "Bearer …" header value.
     */
    async verifyNotificationSecret(
      tenantId: string | null | undefined,
      tokenId: string,
      bearer: string | null | undefined,
    ): Promise<NotificationTarget | undefined> {
      const secret = (bearer ?? "").replace(/^Bearer\s+/i, "").trim();
      if (!secret || !uuidRe.test(tokenId)) return undefined;
      const hash = hashSecret(secret);
      const pending = pendingUploads.get(tokenId);
      if (pending && (!tenantId || pending.tenantId === tenantId) && safeEqual(hash, pending.secretHash))
        return { tenantId: pending.tenantId, tokenId, pending: true };
      for (const r of await repo.findAnyTenant(db, tokenId)) {
        if (tenantId && r.tenant_id !== tenantId) continue;
        if (r.notification_secret_hash && safeEqual(hash, r.notification_secret_hash))
          return { tenantId: r.tenant_id, tokenId, pending: false };
      }
      return undefined;
    },

    async setSyncStatus(
      tenantId: string,
      tokenId: string,
      update: SyncStatusUpdate,
      ex: Executor = db,
    ): Promise<boolean> {
      const at = update.at ?? new Date();
      const set: VppTokenUpdate = { last_sync_status: update.status };
      if (update.status === "completed") {
        set.last_sync_at = at;
        set.last_sync_error = null;
        if (update.full) set.last_full_sync_at = at;
      } else if (update.status === "failed") {
        set.last_sync_at = at;
        set.last_sync_error = update.error ?? null;
      }
      if (update.nextSyncAt !== undefined) set.next_sync_at = update.nextSyncAt;
      return (await repo.update(ex, tenantId, tokenId, set)) !== undefined;
    },

    async recordVersionIds(
      tenantId: string,
      tokenId: string,
      ids: VersionIds,
      ex: Executor = db,
    ): Promise<boolean> {
      const set: VppTokenUpdate = {};
      if (ids.assets !== undefined) set.assets_version_id = ids.assets;
      if (ids.assignments !== undefined) set.assignments_version_id = ids.assignments;
      if (ids.users !== undefined) set.users_version_id = ids.users;
      if (Object.keys(set).length === 0) return true;
      return (await repo.update(ex, tenantId, tokenId, set)) !== undefined;
    },

    /**
     * TOK-4: marks tokens past their expiry `expired` and warns administrators once per threshold
     * (30/14/7/1 days by default). Safe to run from several processes: each warning is claimed by a
     * conditional update in the transaction that raises it.
     */
    async checkExpiries(now: Date = new Date()): Promise<{ expired: number; warned: number }> {
      let expired = 0;
      let warned = 0;
      const horizon = new Date(now.getTime() + (maxDays[0] ?? 0) * DAY);
      for (const c of await repo.expiryCandidates(db, horizon)) {
        const expiresAt = new Date(c.expiration_at);
        if (expiresAt.getTime() <= now.getTime()) {
          await db.transaction().execute(async (trx) => {
            const before = await repo.find(trx, c.tenant_id, c.id);
            if (!before) return;
            const after = await repo.setStateIfDifferent(trx, c.tenant_id, c.id, "expired", {
              state_reason: "expired",
            });
            if (!after) return;
            expired++;
            await alertsService.raise(trx, c.tenant_id, {
              kind: "vppTokenExpired",
              severity: "critical",
              title: `VPP token '${nameOf(after)}' has expired`,
              message: `The token for '${after.location_name ?? after.location_id}' expired on ${expiresAt.toISOString().slice(0, 10)}. Syncs and license changes with it stop. Download a new token in Apple Business Manager or Apple School Manager and upload it onto this token (PATCH /deviceAppManagement/vppTokens/${c.id} with 'token').`,
              resourceType: VPP_TOKEN,
              resourceId: c.id,
            });
            await auditService.record(
              trx,
              systemCtx(c.tenant_id),
              tokenAuditEntries("Mark VPP token expired", "Action", after, before),
            );
          });
          continue;
        }
        if (c.state !== "valid" && c.state !== "duplicateLocationId" && c.state !== "unknown") continue;
        const left = (expiresAt.getTime() - now.getTime()) / DAY;
        const due = maxDays.filter((d) => left <= d);
        if (due.length === 0) continue;
        const level = due[due.length - 1];
        if ((c.expiry_warnings_sent ?? []).includes(level)) continue;
        await db.transaction().execute(async (trx) => {
          if (!(await repo.markWarningsSent(trx, c.tenant_id, c.id, level, due))) return;
          warned++;
          const daysLeft = Math.max(1, Math.ceil(left));
          await alertsService.raise(trx, c.tenant_id, {
            kind: "vppTokenExpiring",
            severity: level <= 7 ? "critical" : "warning",
            title: `VPP token '${nameOf(c)}' expires in ${daysLeft} day${daysLeft === 1 ? "" : "s"}`,
            message: `The token for '${c.location_name ?? c.organization_name ?? c.id}' expires on ${expiresAt.toISOString().slice(0, 10)}. Download a new token in Apple Business Manager or Apple School Manager and upload it onto this token (PATCH /deviceAppManagement/vppTokens/${c.id} with 'token') before then.`,
            resourceType: VPP_TOKEN,
            resourceId: c.id,
          });
        });
      }
      return { expired, warned };
    },

    /** After an upload, renewal or re-claim is committed (the sync starts its first sync here). */
    onTokenSaved(handler: (e: TokenSavedEvent) => void | Promise<void>): void {
      savedHandlers.push(handler);
    },
    /** After a token is deleted (the sync drops its schedule here). */
    onTokenDeleted(handler: (e: TokenDeletedEvent) => void | Promise<void>): void {
      deletedHandlers.push(handler);
    },
  };
}
export type TokensService = ReturnType<typeof createTokensService>;

/** "30,14,7,1" → [30, 14, 7, 1]. */
export function parseWarningDays(text: string): number[] {
  return text
    .split(",")
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
}
