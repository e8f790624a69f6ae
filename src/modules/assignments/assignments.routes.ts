// Graph routes of assignments (ASG-1..4), on /v1.0 and /beta:
//   POST /deviceAppManagement/mobileApps/{id}/assign            {"mobileAppAssignments":[…]} → 204 (replaces the set)
//   GET|POST /deviceAppManagement/mobileApps/{id}/assignments
//   GET|PATCH|DELETE /deviceAppManagement/mobileApps/{id}/assignments/{assignmentId}
//   the same under /deviceAppManagement/managedEBooks (managedEBookAssignment, installIntent)
// Bodies are checked by the service, which names every problem it finds.
import type { FastifyRequest } from "fastify";
import { Type } from "typebox";
import { ctxOf } from "../../http/context.ts";
import { contextUrl, rejectUnknownOptions } from "../../http/odata/query.ts";
import type { App } from "../../http/types.ts";
import type { AssignmentSet, Version } from "./assignments.entities.ts";
import type { AssignmentsService } from "./assignments.service.ts";

const tags = ["assignments"];
const AppParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 300 }) });
const AssignmentParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 300 }),
  assignmentId: Type.String({ minLength: 1, maxLength: 300 }),
});
const AnyBody = Type.Object({}, { additionalProperties: true });

export function registerAssignmentRoutes(
  app: App,
  version: Version,
  deps: { assignmentsService: AssignmentsService },
) {
  const svc = deps.assignmentsService;
  const read = { access: "tokens.read" as const };
  const write = { access: "assignments.write" as const };

  for (const set of ["mobileApps", "managedEBooks"] as AssignmentSet[]) {
    const path = `/deviceAppManagement/${set}/:id`;
    const books = set === "managedEBooks";
    const entity = books ? "managedEBookAssignment" : "mobileAppAssignment";
    const listName = books ? "managedEBookAssignments" : "mobileAppAssignments";
    const fragment = (req: FastifyRequest<{ Params: { id: string } }>) =>
      `deviceAppManagement/${set}('${req.params.id}')/assignments`;

    app.post(
      `${path}/assign`,
      {
        config: write,
        schema: {
          tags,
          summary: `Set the ${books ? "book's" : "app's"} assignments: the body's '${listName}' replace the whole set (an empty list removes all); 204`,
          params: AppParams,
          body: AnyBody,
        },
      },
      async (req, reply) => {
        await svc.assign(ctxOf(req), set, version, req.params.id, req.body);
        return reply.status(204).send();
      },
    );

    app.get(
      `${path}/assignments`,
      {
        config: read,
        schema: {
          tags,
          summary: `List the ${books ? "book's" : "app's"} assignments (${entity})`,
          params: AppParams,
        },
      },
      async (req) => {
        rejectUnknownOptions(req.query as Record<string, unknown>, []);
        const value = await svc.list(ctxOf(req), set, version, req.params.id);
        return { "@odata.context": contextUrl(req, fragment(req)), value };
      },
    );

    app.post(
      `${path}/assignments`,
      {
        config: write,
        schema: {
          tags,
          summary: `Add one assignment (${entity}) to the ${books ? "book" : "app"}; 201`,
          params: AppParams,
          body: AnyBody,
        },
      },
      async (req, reply) => {
        const item = await svc.create(ctxOf(req), set, version, req.params.id, req.body);
        return reply
          .status(201)
          .send({ "@odata.context": contextUrl(req, `${fragment(req)}/$entity`), ...item });
      },
    );

    app.get(
      `${path}/assignments/:assignmentId`,
      { config: read, schema: { tags, summary: `Get one assignment (${entity})`, params: AssignmentParams } },
      async (req) => {
        rejectUnknownOptions(req.query as Record<string, unknown>, []);
        const item = await svc.get(ctxOf(req), set, version, req.params.id, req.params.assignmentId);
        return { "@odata.context": contextUrl(req, `${fragment(req)}/$entity`), ...item };
      },
    );

    app.patch(
      `${path}/assignments/:assignmentId`,
      {
        config: write,
        schema: {
          tags,
          summary: `Change one assignment (${entity}): intent, target or settings`,
          params: AssignmentParams,
          body: AnyBody,
        },
      },
      async (req) => {
        const item = await svc.update(
          ctxOf(req),
          set,
          version,
          req.params.id,
          req.params.assignmentId,
          req.body,
        );
        return { "@odata.context": contextUrl(req, `${fragment(req)}/$entity`), ...item };
      },
    );

    app.delete(
      `${path}/assignments/:assignmentId`,
      {
        config: write,
        schema: { tags, summary: `Remove one assignment (${entity}); 204`, params: AssignmentParams },
      },
      async (req, reply) => {
        await svc.remove(ctxOf(req), set, version, req.params.id, req.params.assignmentId);
        return reply.status(204).send();
      },
    );
  }
}
