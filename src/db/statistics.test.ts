import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshDatabase } from "../../test/helpers/allot.ts";
import type { Database } from "./database.ts";
import { createTableStatistics } from "./statistics.ts";

describe("table statistics", () => {
  let database: Database;
  beforeAll(async () => {
    database = await freshDatabase();
    await sql`create table stats_probe (id int primary key)`.execute(database.db);
  });
  afterAll(async () => {
    await database?.close();
  });
  const analyzed = async () =>
    Number(
      (await sql<{ n: number }>`select reltuples::float8 as n from pg_class where relname = 'stats_probe'`.execute(database.db))
        .rows[0]?.n,
    );

  it("analyzes a table once enough rows were written, and then only after a fifth of its size more", async () => {
    const stats = createTableStatistics(database.db, { minRows: 100 });
    await sql`insert into stats_probe select generate_series(1, 1000)`.execute(database.db);
    await stats.wrote("stats_probe", 60);
    expect(await analyzed()).toBeLessThan(1000); // never analyzed: -1 (or 0 on older engines)
    await stats.wrote("stats_probe", 940);
    expect(await analyzed()).toBe(1000);
    await sql`insert into stats_probe select generate_series(1001, 1150)`.execute(database.db);
    await stats.wrote("stats_probe", 150); // 150 < max(100, 0.2 × 1000)
    expect(await analyzed()).toBe(1000);
    await sql`insert into stats_probe select generate_series(1151, 1250)`.execute(database.db);
    await stats.wrote("stats_probe", 100); // 250 in all since the last analyze
    expect(await analyzed()).toBe(1250);
  });

  it("refuses anything but a plain table name", async () => {
    const stats = createTableStatistics(database.db);
    await expect(stats.wrote("x; drop table y", 1)).rejects.toThrow(/not a table name/);
  });
});
