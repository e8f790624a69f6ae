// The bulk writer on the test's engine (PGlite, or PostgreSQL with DATABASE_URL): COPY round trips
// awkward text exactly, mixes with compiled queries in one transaction, and rolls back as a whole.
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshDatabase } from "../../test/helpers/allot.ts";
import { copyText, createBulkWriter } from "./bulk.ts";
import type { Database } from "./database.ts";

describe("copyText", () => {
  it("escapes COPY's specials and writes null as \\N", () => {
    expect(copyText([["a\tb", null, "c\\d\ne\rf", 3, true]])).toBe("a\\tb\t\\N\tc\\\\d\\ne\\rf\t3\ttrue\n");
    expect(copyText([])).toBe("");
  });
});

describe("bulk writer", () => {
  let database: Database;
  beforeAll(async () => {
    database = await freshDatabase();
    await sql`create table bulk_probe (id int primary key, label text, at timestamptz, doc jsonb)`.execute(database.db);
  });
  afterAll(async () => {
    await database?.close();
  });

  it("copies rows exactly and runs compiled queries in the same transaction", async () => {
    const bulk = createBulkWriter(database);
    const awkward = 'tab\there, newline\nthere, back\\slash, "quotes", ünïcödé, \\N';
    const doc = JSON.stringify({ text: "line\nbreak \\ \"q\"" });
    await bulk.transaction(async (s) => {
      await s.copy("bulk_probe", ["id", "label", "at", "doc"], [
        [1, awkward, "2026-11-21T10:00:00.000Z", doc],
        [2, null, null, "{}"],
      ]);
      await s.execute(sql`insert into bulk_probe (id, label) values (${3}, ${"by query"})`.compile(database.db));
      // The copied rows are visible to the transaction's own queries.
      const seen = await s.execute(sql<{ n: number }>`select count(*)::int as n from bulk_probe`.compile(database.db));
      expect(seen[0]?.n).toBe(3);
    });
    const rows = (
      await sql<{ id: number; label: string | null; at: Date | null; doc: unknown }>`
        select id, label, at, doc from bulk_probe order by id`.execute(database.db)
    ).rows;
    expect(rows.map((r) => r.id)).toEqual([1, 2, 3]);
    expect(rows[0]?.label).toBe(awkward);
    expect(new Date(rows[0]!.at!).toISOString()).toBe("2026-11-21T10:00:00.000Z");
    expect(rows[0]?.doc).toEqual(JSON.parse(doc));
    expect(rows[1]?.label).toBeNull();
    expect(rows[2]?.label).toBe("by query");
  });

  it("rolls the whole transaction back when a COPY fails (primary key), and the session stays usable", async () => {
    const bulk = createBulkWriter(database);
    const err = await bulk
      .transaction(async (s) => {
        await s.copy("bulk_probe", ["id", "label"], [[10, "new"]]);
        await s.copy("bulk_probe", ["id", "label"], [[1, "duplicate"]]);
      })
      .catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe("23505");
    const ids = (await sql<{ id: number }>`select id from bulk_probe order by id`.execute(database.db)).rows;
    expect(ids.map((r) => r.id)).toEqual([1, 2, 3]);
    await bulk.transaction((s) => s.copy("bulk_probe", ["id"], [[11]]));
    const after = (await sql<{ n: number }>`select count(*)::int as n from bulk_probe`.execute(database.db)).rows;
    expect(after[0]?.n).toBe(4);
  });

  it("refuses names that are not plain identifiers", async () => {
    const bulk = createBulkWriter(database);
    await expect(bulk.transaction((s) => s.copy("bulk_probe; drop table x", ["id"], [[1]]))).rejects.toThrow(
      /not a plain identifier/,
    );
  });
});
