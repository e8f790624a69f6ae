// Graph routes of the app catalog (APP-1..4):
//   /deviceAppManagement/mobileApps[/microsoft.graph.iosVppApp|macOsVppApp][/{id}[/microsoft.graph.…]]
//   /deviceAppManagement/managedEBooks[/microsoft.graph.iosVppEBook][/{id}]
// Reads take OData options (type-cast segments, isof(), $filter on derived properties); POST and
// DELETE answer with the APP-2 / REV-3 errors; PATCH sets Allot's unitPrice only.
import type { FastifyRequest } from "fastify";
import { Type } from "typebox";
import { ctxOf } from "../../http/context.ts";
import { findDerivedType } from "../../http/odata/entity.ts";
import {
  collectionBody,
  contextUrl,
  parseExpand,
  parseListOptions,
  parseSelect,
  project,
  readOption,
  rejectUnknownOptions,
} from "../../http/odata/query.ts";
import type { App } from "../../http/types.ts";
import { badRequest } from "../../lib/errors.ts";
import type { AssignmentsService } from "../assignments/assignments.service.ts";
import type { Version } from "./catalog.entities.ts";
import { type CatalogService, type CatalogSet, entityOf } from "./catalog.service.ts";

type Q = Record<string, unknown>;
const tags = ["apps"];
const Segment = Type.Object({ id: Type.String({ minLength: 1, maxLength: 300 }) });
const SegmentCast = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 300 }),
  cast: Type.String({ minLength: 1, maxLength: 300 }),
});
const AnyBody = Type.Object({}, { additionalProperties: true });

const castLike = (segment: string) => /^#?microsoft\.graph\./i.test(segment);

function castOf(set: CatalogSet, version: Version, segment: string): string {
  const t = findDerivedType(entityOf(set, version), segment);
  if (!t) {
    const known = entityOf(set, version).derivedTypes?.join(", ");
    throw badRequest(
      `'${segment}' is not a type of ${set === "managedEBooks" ? "managedEBook" : "mobileApp"} in ${version} (known types: ${known}).`,
    );
  }
  return t;
}

const acceptLanguage = (req: FastifyRequest) =>
  typeof req.headers["accept-language"] === "string" ? req.headers["accept-language"] : undefined;

export function registerCatalogRoutes(
  app: App,
  version: Version,
  deps: { catalogService: CatalogService; assignmentsService?: Pick<AssignmentsService, "expand"> },
) {
  const svc = deps.catalogService;
  // $expand=assignments (the assignments module fills it in) when that module is wired.
  const expander = deps.assignmentsService;
  const entityFor = (set: CatalogSet) =>
    expander ? { ...entityOf(set, version), expandable: ["assignments"] } : entityOf(set, version);
  const read = { access: "tokens.read" as const };
  const write = { access: "tokens.write" as const };

  for (const set of ["mobileApps", "managedEBooks"] as const) {
    const path = `/deviceAppManagement/${set}`;
    const fragment = `deviceAppManagement/${set}`;
    const noun =
      set === "mobileApps" ? "store apps (iosVppApp, beta: macOsVppApp)" : "store books (iosVppEBook)";

    const list = async (req: FastifyRequest, castType?: string) => {
      const options = parseListOptions(req.query as Q, entityFor(set), { castType });
      const page = await svc.list(ctxOf(req), set, version, options, {
        castType,
        acceptLanguage: acceptLanguage(req),
      });
      if (expander && options.expand.includes("assignments"))
        page.items = await expander.expand(ctxOf(req), set, version, page.items);
      return collectionBody(req, castType ? `${fragment}/${castType}` : fragment, options, page);
    };
    const single = async (req: FastifyRequest, id: string, castType?: string) => {
      rejectUnknownOptions(req.query as Q, ["select", "expand"]);
      const select = parseSelect(readOption(req.query as Q, "select"), entityOf(set, version), castType);
      const expand = parseExpand(readOption(req.query as Q, "expand"), entityFor(set));
      let item = await svc.get(ctxOf(req), set, version, id, {
        castType,
        acceptLanguage: acceptLanguage(req),
      });
      if (expander && expand.includes("assignments"))
        [item] = await expander.expand(ctxOf(req), set, version, [item]);
      const ctx = `${fragment}${castType ? `/${castType}` : ""}${select ? `(${select.join(",")})` : ""}/$entity`;
      return {
        "@odata.context": contextUrl(req, ctx),
        ...project(item, select ? [...select, ...expand] : undefined),
      };
    };

    app.get(
      path,
      {
        config: read,
        schema: {
          tags,
          summary: `List ${noun}: one per (token, asset); OData $filter (also isof() and derived properties), $select, $orderby, $top, $count`,
        },
      },
      async (req) => list(req),
    );
    app.get(
      `${path}/:id`,
      {
        config: read,
        schema: {
          tags,
          summary: `Get one of the ${noun} by id, or list one type through a cast segment (microsoft.graph.…)`,
          params: Segment,
        },
      },
      async (req) =>
        castLike(req.params.id) ? list(req, castOf(set, version, req.params.id)) : single(req, req.params.id),
    );
    app.get(
      `${path}/:id/:cast`,
      {
        config: read,
        schema: {
          tags,
          summary: "Get one entry through a type-cast segment (404 when it is of another type)",
          params: SegmentCast,
        },
      },
      async (req) => {
        // The entry must exist in the caller's tenant before the segment after it is looked at.
        await svc.get(ctxOf(req), set, version, req.params.id);
        if (!castLike(req.params.cast))
          throw badRequest(
            `'${req.params.cast}' is not a navigation property or type cast of ${set === "managedEBooks" ? "managedEBook" : "mobileApp"} that Allot serves.`,
          );
        return single(req, req.params.id, castOf(set, version, req.params.cast));
      },
    );

    app.post(
      path,
      {
        config: write,
        schema: { tags, summary: `Refused (APP-2): ${noun} come only from VPP token syncs`, body: AnyBody },
      },
      async () => svc.refuseCreate(set),
    );
    app.post(
      `${path}/:id`,
      {
        config: write,
        schema: {
          tags,
          summary: "Refused (APP-2) through a type-cast segment; an entry takes no POST",
          params: Segment,
          body: AnyBody,
        },
      },
      async (req) => {
        if (castLike(req.params.id)) {
          castOf(set, version, req.params.id);
          return svc.refuseCreate(set);
        }
        return svc.refusePost(ctxOf(req), set, version, req.params.id);
      },
    );
    app.delete(
      `${path}/:id`,
      {
        config: write,
        schema: {
          tags,
          summary: `Refused (REV-3): ${noun} cannot be deleted; they go away with their token`,
          params: Segment,
        },
      },
      async (req) => svc.refuseDelete(ctxOf(req), set, version, req.params.id),
    );
    app.patch(
      `${path}/:id`,
      {
        config: write,
        schema: {
          tags,
          summary: "Set Allot's unitPrice (price of one license); store properties are read-only",
          params: Segment,
          body: AnyBody,
        },
      },
      async (req) => {
        const item = await svc.update(
          ctxOf(req),
          set,
          version,
          req.params.id,
          req.body as Record<string, unknown>,
          acceptLanguage(req),
        );
        return { "@odata.context": contextUrl(req, `${fragment}/$entity`), ...item };
      },
    );
  }
}
