// Runs a multi-statement SQL script one statement at a time: PGlite's query() takes a single
// statement (extended protocol), so migrations split their scripts here, honouring $$ bodies.
import { type Kysely, sql } from "kysely";

export function splitStatements(script: string): string[] {
  const out: string[] = [];
  let current = "";
  let inDollar = false;
  let inQuote = false;
  for (let i = 0; i < script.length; i++) {
    const c = script[i];
    if (!inQuote && script.startsWith("$$", i)) {
      inDollar = !inDollar;
      current += "$$";
      i++;
      continue;
    }
    if (!inDollar && c === "'") inQuote = !inQuote;
    if (!inDollar && !inQuote && c === "-" && script[i + 1] === "-") {
      const end = script.indexOf("\n", i);
      i = end === -1 ? script.length : end;
      current += "\n";
      continue;
    }
    if (c === ";" && !inDollar && !inQuote) {
      if (current.trim()) out.push(current.trim());
      current = "";
      continue;
    }
    current += c;
  }
  if (current.trim()) out.push(current.trim());
  return out;
}

export async function runScript(db: Kysely<any>, script: string): Promise<void> {
  for (const statement of splitStatements(script)) await sql.raw(statement).execute(db);
}
