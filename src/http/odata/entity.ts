// How a Graph entity set maps onto SQL: Graph property names → columns and types. The OData
// layer uses it to validate query options and compile them; repositories use it to select rows.

export type PropertyType = "string" | "boolean" | "integer" | "datetime" | "guid" | "enum" | "stringCollection";

export interface PropertyDef {
  /** Column of the row source (unqualified). */
  column: string;
  type: PropertyType;
  enumValues?: readonly string[];
  /** Entra compares directory strings case-insensitively; so do we where this is set. */
  caseInsensitive?: boolean;
  filterable?: boolean;
  sortable?: boolean;
  /** On a polymorphic set: the derived types (full names) that carry the property. */
  ownerTypes?: readonly string[];
}

export interface EntityDef {
  /** Full type name, e.g. microsoft.graph.user. */
  typeName: string;
  properties: Record<string, PropertyDef>;
  /** Polymorphic sets: column holding the full derived type name of each row. */
  discriminator?: string;
  derivedTypes?: readonly string[];
  /** Monotonic column for stable order and keyset paging. */
  sequenceColumn: string;
  /** Navigation properties $expand may name. */
  expandable?: readonly string[];
}

export function findProperty(entity: EntityDef, name: string): [string, PropertyDef] | undefined {
  const direct = entity.properties[name];
  if (direct) return [name, direct];
  const lower = name.toLowerCase();
  for (const [key, def] of Object.entries(entity.properties)) if (key.toLowerCase() === lower) return [key, def];
  return undefined;
}

export function findDerivedType(entity: EntityDef, name: string): string | undefined {
  let wanted = name.replace(/^#/, "").toLowerCase();
  // Entra calls device members microsoft.graph.device; ours are managed devices with the same id.
  if (wanted === "microsoft.graph.device" || wanted === "device") wanted = "microsoft.graph.manageddevice";
  return entity.derivedTypes?.find((t) => t.toLowerCase() === wanted || t.toLowerCase() === `microsoft.graph.${wanted}`);
}
