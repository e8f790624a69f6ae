// Graph-shaped directory routes (DIR-1): /users, /groups (+ members, $ref), /directoryObjects,
// /deviceManagement/managedDevices. Validation and OData parsing here; rules in the service.
import type { FastifyRequest } from "fastify";
import { Type } from "typebox";
import { ctxOf } from "../../http/context.ts";
import { findDerivedType } from "../../http/odata/entity.ts";
import { parseFilter } from "../../http/odata/filter-parser.ts";
import { collectionBody, contextUrl, type ListOptions, parseExpand, parseListOptions, parseSelect, project, readOption, rejectUnknownOptions } from "../../http/odata/query.ts";
import { collectionResponse, itemSchema } from "../../http/odata/response-schema.ts";
import type { App } from "../../http/types.ts";
import { badRequest } from "../../lib/errors.ts";
import { deviceEntity, directoryObjectEntity, groupEntity, userEntity } from "./directory.entities.ts";
import { DeviceCreate, DeviceUpdate, GroupCreate, GroupUpdate, MemberRef, UserCreate, UserUpdate } from "./directory.schemas.ts";
import type { DirectoryService, Page } from "./directory.service.ts";

const IdParam = Type.Object({ id: Type.String({ minLength: 1, maxLength: 1024 }) });
const tags = ["directory"];

type Q = Record<string, unknown>;

/** $expand of a single entity: navigation properties the entity has (400 naming any other). */
function expandOf(req: FastifyRequest, entity: typeof userEntity): string[] {
  rejectUnknownOptions(req.query as Q, ["select", "expand"]);
  return parseExpand(readOption(req.query as Q, "expand"), entity);
}

/** A single entity with $select applied (expanded navigation properties, already on `item`, kept). */
function single(req: FastifyRequest, fragment: string, entity: typeof userEntity, item: Record<string, unknown>) {
  const q = req.query as Q;
  const expand = expandOf(req, entity);
  const select = parseSelect(readOption(q, "select"), entity);
  const ctx = select ? `${fragment}(${select.join(",")})/$entity` : `${fragment}/$entity`;
  return { "@odata.context": contextUrl(req, ctx), ...project(item, select ? [...select, ...expand] : undefined) };
}

function list(req: FastifyRequest, fragment: string, options: ListOptions, page: Page) {
  return collectionBody(req, fragment, options, page);
}

function castOf(segment: string): string {
  const t = findDerivedType(directoryObjectEntity, segment);
  if (!t) throw badRequest(`'${segment}' is not a type cast of directoryObject (use microsoft.graph.user, microsoft.graph.group or microsoft.graph.device).`);
  return t;
}

export function registerDirectoryRoutes(app: App, deps: { directoryService: DirectoryService }) {
  const svc = deps.directoryService;
  const read = { access: "directory.read" as const };
  const write = { access: "directory.write" as const };

  // ---------------- users
  const usersList = collectionResponse(itemSchema(userEntity, { memberOf: { type: "array" }, managedDevices: { type: "array" } }));
  const groupsList = collectionResponse(itemSchema(groupEntity, { groupTypes: { type: "array", items: { type: "string" } }, members: { type: "array" } }));
  const devicesList = collectionResponse(itemSchema(deviceEntity, { users: { type: "array" } }));
  const objectsList = collectionResponse(itemSchema(directoryObjectEntity, { groupTypes: { type: "array", items: { type: "string" } } }));
  app.get("/users", { config: read, schema: { tags, summary: "List users", response: usersList } }, async (req) => {
    const options = parseListOptions(req.query as Q, userEntity);
    return list(req, "users", options, await svc.listUsers(ctxOf(req), options));
  });
  app.post("/users", { config: write, schema: { tags, summary: "Create a user", body: UserCreate } }, async (req, reply) => {
    const user = await svc.createUser(ctxOf(req), req.body);
    return reply.status(201).send({ "@odata.context": contextUrl(req, "users/$entity"), ...user });
  });
  app.get("/users/:id", { config: read, schema: { tags, summary: "Get a user by id or userPrincipalName", params: IdParam } }, async (req) => {
    const expand = expandOf(req, userEntity);
    const user: Record<string, unknown> = await svc.getUser(ctxOf(req), req.params.id);
    if (expand.includes("memberOf"))
      user.memberOf = (await svc.listMemberOf(ctxOf(req), "user", String(user.id), parseListOptions({ $top: "999" }, directoryObjectEntity), false)).items;
    if (expand.includes("managedDevices"))
      user.managedDevices = (await svc.listDevices(ctxOf(req), parseListOptions({ $filter: `userId eq ${user.id}`, $top: "999" }, deviceEntity))).items;
    return single(req, "users", userEntity, user);
  });
  app.patch("/users/:id", { config: write, schema: { tags, summary: "Update a user", params: IdParam, body: UserUpdate } }, async (req, reply) => {
    await svc.updateUser(ctxOf(req), req.params.id, req.body);
    return reply.status(204).send();
  });
  app.delete("/users/:id", { config: write, schema: { tags, summary: "Delete a user", params: IdParam } }, async (req, reply) => {
    await svc.deleteUser(ctxOf(req), req.params.id);
    return reply.status(204).send();
  });
  for (const [nav, transitive] of [["memberOf", false], ["transitiveMemberOf", true]] as const) {
    app.get(`/users/:id/${nav}`, { config: read, schema: { tags, summary: `Groups the user is a ${transitive ? "transitive " : ""}member of`, params: IdParam } }, async (req) => {
      const options = parseListOptions(req.query as Q, directoryObjectEntity);
      return list(req, "directoryObjects", options, await svc.listMemberOf(ctxOf(req), "user", req.params.id, options, transitive));
    });
  }
  app.get("/users/:id/managedDevices", { config: read, schema: { tags, summary: "Managed devices whose primary user is this user", params: IdParam } }, async (req) => {
    const user = await svc.getUser(ctxOf(req), req.params.id);
    const options = parseListOptions(req.query as Q, deviceEntity);
    // Combined as trees, never as text, so the caller's $filter cannot escape the user scope.
    const own = parseFilter(`userId eq ${user.id}`);
    options.filter = options.filter ? { kind: "and", left: own, right: options.filter } : own;
    return list(req, `users('${user.id}')/managedDevices`, options, await svc.listDevices(ctxOf(req), options));
  });

  // ---------------- groups
  app.get("/groups", { config: read, schema: { tags, summary: "List groups", response: groupsList } }, async (req) => {
    const options = parseListOptions(req.query as Q, groupEntity);
    return list(req, "groups", options, await svc.listGroups(ctxOf(req), options));
  });
  app.post("/groups", { config: write, schema: { tags, summary: "Create a group (user, device or mixed)", body: GroupCreate } }, async (req, reply) => {
    const group = await svc.createGroup(ctxOf(req), req.body);
    return reply.status(201).send({ "@odata.context": contextUrl(req, "groups/$entity"), ...group });
  });
  app.get("/groups/:id", { config: read, schema: { tags, summary: "Get a group", params: IdParam } }, async (req) =>
    single(req, "groups", groupEntity, await svc.getGroup(ctxOf(req), req.params.id, expandOf(req, groupEntity))),
  );
  app.patch("/groups/:id", { config: write, schema: { tags, summary: "Update a group", params: IdParam, body: GroupUpdate } }, async (req, reply) => {
    await svc.updateGroup(ctxOf(req), req.params.id, req.body);
    return reply.status(204).send();
  });
  app.delete("/groups/:id", { config: write, schema: { tags, summary: "Delete a group", params: IdParam } }, async (req, reply) => {
    await svc.deleteGroup(ctxOf(req), req.params.id);
    return reply.status(204).send();
  });
  for (const [nav, transitive] of [["members", false], ["transitiveMembers", true]] as const) {
    app.get(`/groups/:id/${nav}`, { config: read, schema: { tags, summary: `List the ${transitive ? "transitive " : "direct "}members of a group`, params: IdParam, response: objectsList } }, async (req) => {
      const options = parseListOptions(req.query as Q, directoryObjectEntity);
      return list(req, "directoryObjects", options, await svc.listMembers(ctxOf(req), req.params.id, options, transitive));
    });
    app.get(
      `/groups/:id/${nav}/:cast`,
      { config: read, schema: { tags, summary: `List ${nav} of one type (OData cast segment, e.g. microsoft.graph.user)`, params: Type.Object({ id: Type.String(), cast: Type.String() }) } },
      async (req) => {
        const cast = castOf(req.params.cast);
        const options = parseListOptions(req.query as Q, directoryObjectEntity, { castType: cast });
        const fragment = cast === "microsoft.graph.user" ? "users" : cast === "microsoft.graph.group" ? "groups" : "deviceManagement/managedDevices";
        return list(req, fragment, options, await svc.listMembers(ctxOf(req), req.params.id, options, transitive, cast));
      },
    );
  }
  app.post("/groups/:id/members/$ref", { config: write, schema: { tags, summary: "Add a member (user, device or group) by @odata.id", params: IdParam, body: MemberRef } }, async (req, reply) => {
    await svc.addMember(ctxOf(req), req.params.id, req.body["@odata.id"]);
    return reply.status(204).send();
  });
  app.delete(
    "/groups/:id/members/:memberId/$ref",
    { config: write, schema: { tags, summary: "Remove a member", params: Type.Object({ id: Type.String(), memberId: Type.String() }) } },
    async (req, reply) => {
      await svc.removeMember(ctxOf(req), req.params.id, req.params.memberId);
      return reply.status(204).send();
    },
  );
  for (const [nav, transitive] of [["memberOf", false], ["transitiveMemberOf", true]] as const) {
    app.get(`/groups/:id/${nav}`, { config: read, schema: { tags, summary: `Groups this group is a ${transitive ? "transitive " : ""}member of`, params: IdParam } }, async (req) => {
      const options = parseListOptions(req.query as Q, directoryObjectEntity);
      return list(req, "directoryObjects", options, await svc.listMemberOf(ctxOf(req), "group", req.params.id, options, transitive));
    });
  }
  app.get("/directoryObjects/:id", { config: read, schema: { tags, summary: "Get a user, group or managed device by id", params: IdParam } }, async (req) => {
    rejectUnknownOptions(req.query as Q, []);
    return { "@odata.context": contextUrl(req, "directoryObjects/$entity"), ...(await svc.getDirectoryObject(ctxOf(req), req.params.id)) };
  });

  // ---------------- managed devices
  const devTags = ["devices"];
  app.get("/deviceManagement/managedDevices", { config: read, schema: { tags: devTags, summary: "List managed devices", response: devicesList } }, async (req) => {
    const options = parseListOptions(req.query as Q, deviceEntity);
    return list(req, "deviceManagement/managedDevices", options, await svc.listDevices(ctxOf(req), options));
  });
  app.post("/deviceManagement/managedDevices", { config: write, schema: { tags: devTags, summary: "Create a managed device", body: DeviceCreate } }, async (req, reply) => {
    const device = await svc.createDevice(ctxOf(req), req.body);
    return reply.status(201).send({ "@odata.context": contextUrl(req, "deviceManagement/managedDevices/$entity"), ...device });
  });
  app.get("/deviceManagement/managedDevices/:id", { config: read, schema: { tags: devTags, summary: "Get a managed device", params: IdParam } }, async (req) => {
    const expand = expandOf(req, deviceEntity);
    const device: Record<string, unknown> = await svc.getDevice(ctxOf(req), req.params.id);
    if (expand.includes("users")) device.users = device.userId ? [await svc.getUser(ctxOf(req), String(device.userId))] : [];
    return single(req, "deviceManagement/managedDevices", deviceEntity, device);
  });
  app.patch("/deviceManagement/managedDevices/:id", { config: write, schema: { tags: devTags, summary: "Update a managed device", params: IdParam, body: DeviceUpdate } }, async (req) => ({
    "@odata.context": contextUrl(req, "deviceManagement/managedDevices/$entity"),
    ...(await svc.updateDevice(ctxOf(req), req.params.id, req.body)),
  }));
  app.delete("/deviceManagement/managedDevices/:id", { config: write, schema: { tags: devTags, summary: "Delete (retire) a managed device", params: IdParam } }, async (req, reply) => {
    await svc.deleteDevice(ctxOf(req), req.params.id);
    return reply.status(204).send();
  });
  app.get("/deviceManagement/managedDevices/:id/memberOf", { config: read, schema: { tags: devTags, summary: "Groups the device is a member of", params: IdParam } }, async (req) => {
    const options = parseListOptions(req.query as Q, directoryObjectEntity);
    return list(req, "directoryObjects", options, await svc.listMemberOf(ctxOf(req), "device", req.params.id, options, false));
  });
}
