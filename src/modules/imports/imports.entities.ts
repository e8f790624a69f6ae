// The import resource as an OData entity set (GET /beta/imports): Graph-style names → columns.
import type { EntityDef, PropertyDef } from "../../http/odata/entity.ts";
import { importKinds } from "./imports.columns.ts";

export const importStatuses = ["running", "completed", "failed"] as const;

const int = (column: string): PropertyDef => ({ column, type: "integer" });

export const importEntity: EntityDef = {
  typeName: "allot.import",
  properties: {
    id: { column: "id", type: "guid" },
    kind: { column: "kind", type: "enum", enumValues: importKinds },
    status: { column: "status", type: "enum", enumValues: importStatuses },
    fileName: { column: "file_name", type: "string" },
    totalRows: int("total_rows"),
    processedRows: int("processed_rows"),
    createdRows: int("created_rows"),
    updatedRows: int("updated_rows"),
    createdDateTime: { column: "created_at", type: "datetime" },
    completedDateTime: { column: "completed_at", type: "datetime" },
  },
  sequenceColumn: "seq",
};
