// /{v1.0|beta}/deviceAppManagement/vppTokens (TOK-1..8): list (OData), get, upload, update/renew,
// delete. Validation and OData parsing here; the rules are in the service.
import type { FastifyRequest } from "fastify";
import { Type } from "typebox";
import { ctxOf } from "../../http/context.ts";
import {
  collectionBody,
  contextUrl,
  parseListOptions,
  parseSelect,
  project,
  readOption,
  rejectUnknownOptions,
} from "../../http/odata/query.ts";
import type { App } from "../../http/types.ts";
import { type ApiVersion, vppTokenEntity } from "./tokens.entities.ts";
import {
  VppTokenCreateBeta,
  VppTokenCreateV1,
  type VppTokenInput,
  VppTokenUpdateBeta,
  VppTokenUpdateV1,
} from "./tokens.schemas.ts";
import type { TokensService } from "./tokens.service.ts";

const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });
const tags = ["vppTokens"];
const fragment = "deviceAppManagement/vppTokens";

/** TOK-7: what DELETE tells the caller (also in the OpenAPI description; the console shows it). */
export const DELETE_WARNING =
  "Token deleted with its apps and their assignments in Allot. Licenses assigned at Apple stay assigned and apps stay installed on devices; Allot can no longer revoke them. Revoke licenses first if they must be released.";

function single(req: FastifyRequest, version: ApiVersion, item: Record<string, unknown>) {
  rejectUnknownOptions(req.query as Record<string, unknown>, ["select"]);
  const select = parseSelect(
    readOption(req.query as Record<string, unknown>, "select"),
    vppTokenEntity(version),
  );
  const ctx = select ? `${fragment}(${select.join(",")})/$entity` : `${fragment}/$entity`;
  return { "@odata.context": contextUrl(req, ctx), ...project(item, select) };
}

export function registerTokenRoutes(app: App, version: ApiVersion, deps: { tokensService: TokensService }) {
  const svc = deps.tokensService;
  const read = { access: "tokens.read" as const };
  const write = { access: "tokens.write" as const };
  const betaNote =
    version === "beta"
      ? ""
      : " Beta-only members (displayName, locationName, claimTokenManagementFromExternalMdm, …) are refused here and never shown; a duplicateLocationId token reads valid.";

  app.get(
    "/deviceAppManagement/vppTokens",
    {
      config: read,
      schema: {
        tags,
        summary: "List VPP tokens",
        description: `OData $filter, $select, $orderby, $top, $skip, $count. 'token' is always null.${betaNote}`,
      },
    },
    async (req) => {
      const options = parseListOptions(req.query as Record<string, unknown>, vppTokenEntity(version));
      return collectionBody(req, fragment, options, await svc.list(ctxOf(req), version, options));
    },
  );

  app.post(
    "/deviceAppManagement/vppTokens",
    {
      config: write,
      schema: {
        tags,
        summary: "Upload a VPP token (.vpptoken content)",
        description:
          "Checks the token with Apple before saving: not a token → 400; expired (9621), revoked (9625) or unknown (9622) → 400 naming the reason; location used by another tenant → 409; " +
          "location already in this tenant → 201 with state duplicateLocationId (beta; valid on v1.0); managed by another MDM → 409 naming it, unless claimTokenManagementFromExternalMdm is true (beta; audited take-over); " +
          `otherwise 201, state valid, expirationDateTime from Apple. At most ALLOT_MAX_TOKENS_PER_TENANT tokens per tenant (400).${betaNote}`,
        body: version === "beta" ? VppTokenCreateBeta : VppTokenCreateV1,
      },
    },
    async (req, reply) => {
      const token = await svc.upload(ctxOf(req), version, req.body as VppTokenInput & { token: string });
      return reply.status(201).send({ "@odata.context": contextUrl(req, `${fragment}/$entity`), ...token });
    },
  );

  app.get(
    "/deviceAppManagement/vppTokens/:id",
    { config: read, schema: { tags, summary: "Get a VPP token ('token' is always null)", params: IdParam } },
    async (req) => single(req, version, await svc.getToken(ctxOf(req), req.params.id, version)),
  );

  app.patch(
    "/deviceAppManagement/vppTokens/:id",
    {
      config: write,
      schema: {
        tags,
        summary: "Update or renew a VPP token",
        description:
          "Settings (appleId, countryOrRegion — applied at the next sync —, vppTokenAccountType, automaticallyUpdateApps, displayName on beta). With 'token': renewal; the new token must be for the same location (else 400, nothing sent to Apple). " +
          `On beta, claimTokenManagementFromExternalMdm: true takes back a token another MDM manages.${betaNote}`,
        params: IdParam,
        body: version === "beta" ? VppTokenUpdateBeta : VppTokenUpdateV1,
      },
    },
    async (req) => ({
      "@odata.context": contextUrl(req, `${fragment}/$entity`),
      ...(await svc.update(ctxOf(req), req.params.id, version, req.body as VppTokenInput)),
    }),
  );

  app.delete(
    "/deviceAppManagement/vppTokens/:id",
    {
      config: write,
      schema: {
        tags,
        summary: "Delete a VPP token (licenses stay assigned at Apple)",
        description: `TOK-7: ${DELETE_WARNING} Nothing is sent to Apple. The 204 answer repeats this in a Warning header.`,
        params: IdParam,
        response: {
          204: {
            type: "null",
            description: "Deleted. Licenses assigned at Apple stay assigned.",
            headers: { Warning: { type: "string", description: `299 allot "${DELETE_WARNING}"` } },
          },
        },
      },
    },
    async (req, reply) => {
      await svc.remove(ctxOf(req), req.params.id);
      return reply.status(204).header("Warning", `299 allot "${DELETE_WARNING}"`).send(null);
    },
  );
}
