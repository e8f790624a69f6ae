// Directory objects are listed in one interleaved order (the directory_objects view's sort_key =
// seq × 4 + type). Indexing that expression on each table lets a page of a big polymorphic set
// (members, transitiveMembers) be read as a merge of three index scans instead of a sort of all
// rows: transitiveMembers of a group with 100k members drops from seconds to milliseconds.
import type { Kysely } from "kysely";
import { runScript } from "../sql-script.ts";

export async function up(db: Kysely<any>): Promise<void> {
  await runScript(
    db,
    `
    create index users_sort_key on users (tenant_id, (seq * 4 + 1));
    create index groups_sort_key on groups (tenant_id, (seq * 4 + 2));
    create index devices_sort_key on devices (tenant_id, (seq * 4 + 3));
  `,
  );
}
