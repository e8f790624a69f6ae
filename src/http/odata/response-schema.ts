// Response schemas for Graph collections: Fastify compiles them into a serializer
// (fast-json-stringify), which is cheaper than JSON.stringify on hot list routes, and they document
// the shapes in /openapi.json. Items stay open (additionalProperties) for $expand'ed members.
import type { EntityDef, PropertyType } from "./entity.ts";

const jsonType: Record<PropertyType, unknown> = {
  string: { type: ["string", "null"] },
  guid: { type: ["string", "null"] },
  enum: { type: ["string", "null"] },
  datetime: { type: ["string", "null"] },
  boolean: { type: ["boolean", "null"] },
  integer: { type: ["integer", "null"] },
  stringCollection: { type: "array", items: { type: "string" } },
};

/** JSON schema of one item: the entity's properties plus whatever `extra` adds (e.g. @odata.type). */
export function itemSchema(entity: EntityDef, extra: Record<string, unknown> = {}) {
  const properties: Record<string, unknown> = { "@odata.type": { type: "string" }, ...extra };
  for (const [name, def] of Object.entries(entity.properties)) if (!name.includes("/")) properties[name] = jsonType[def.type];
  return { type: "object", properties, additionalProperties: true };
}

export function collectionResponse(item: object) {
  return {
    200: {
      type: "object",
      properties: {
        "@odata.context": { type: "string" },
        "@odata.count": { type: "integer" },
        value: { type: "array", items: item },
        "@odata.nextLink": { type: "string" },
      },
    },
  } as const;
}
