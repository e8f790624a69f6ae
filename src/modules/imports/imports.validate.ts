// Validation of a whole import file before anything is written: types, enums, required and
// unknown columns, duplicate keys, and references (primary users, groups, members) against the
// directory as it is. Rows arrive one at a time from the streaming CSV parser; references resolve
// through maps loaded once per import. The result is either a list of line-numbered errors or a
// compact write plan (columnar arrays) that the chunked writer slices.
import { once } from "node:events";
import { CsvError, parse } from "csv-parse";
import type { ColumnSpec, ImportKind } from "./imports.columns.ts";
import { importColumns } from "./imports.columns.ts";

export interface ImportError {
  line: number;
  column?: string;
  message: string;
}

/** Keys of one kind of directory object: key → position in `ids`. */
export interface KeyIndex {
  keys: Map<string, number>;
  ids: string[];
}

/** What the validator needs from the directory; each loader runs at most once per import. */
export interface ReferenceLoader {
  /** lower(userPrincipalName) → user */
  users(): Promise<KeyIndex>;
  /** upper(serialNumber) → managed device */
  devices(): Promise<KeyIndex>;
  /** every group: id, lower(mailNickname) (null when it has none), memberKind, displayName */
  groups(): Promise<{ id: string; key: string | null; memberKind: string; displayName: string }[]>;
  /** existing group-in-group edges (parent, child) */
  groupEdges(): Promise<{ parent: string; child: string }[]>;
  /** for groups whose kind changes: those that already hold members of `memberType` */
  groupsWithMemberType(groupIds: string[], memberType: "user" | "device"): Promise<string[]>;
}

export interface EntityPlan {
  kind: "users" | "devices" | "groups";
  rows: number;
  /** Database column → one value per row ("true"/"false" for booleans, null for empty). */
  columns: Record<string, (string | null)[]>;
  /** Database columns whose CSV column was present (only these are updated on existing rows). */
  present: string[];
}

export interface MembersPlan {
  kind: "members";
  rows: number;
  groupIds: string[];
  memberIds: string[];
  memberTypes: ("user" | "device" | "group")[];
}

export type ImportPlan = EntityPlan | MembersPlan;

export const MAX_LISTED_ERRORS = 100;

export class ImportValidator {
  readonly kind: ImportKind;
  private readonly specs: readonly ColumnSpec[];
  private readonly refs: ReferenceLoader;
  /** CSV position → spec index (-1: unknown column). */
  private mapping: number[] = [];
  /** spec index → CSV position (-1: column absent). */
  private specPos: number[] = [];
  private keyAt = -1;
  private headerSeen = false;
  private fatal = false;
  readonly errors: ImportError[] = [];
  errorCount = 0;
  rows = 0;

  // entity kinds
  private columns: Record<string, (string | null)[]> = {};
  private present = new Set<string>();
  private keys = new Map<string, number>();
  private deviceUsers: (string | null)[] = [];
  // members
  private groupIds: string[] = [];
  private memberIds: string[] = [];
  private memberTypes: ("user" | "device" | "group")[] = [];
  /** Per group (by index): member key → line, to refuse duplicate memberships. */
  private memberLines = new Map<number, Map<number, number>>();
  private lastGroupName?: string;
  private lastGroupIndex?: number;
  private newGroupEdges: { parent: number; child: number; line: number }[] = [];

  // reference maps, loaded on first need
  private userMap?: KeyIndex;
  private deviceMap?: KeyIndex;
  private groupIndex?: Map<string, number>; // lower(nickname) → index
  private groupById?: Map<string, number>;
  private groupList?: { id: string; key: string | null; memberKind: string; displayName: string }[];
  private needsUsers = false;
  private needsDevices = false;

  constructor(kind: ImportKind, refs: ReferenceLoader) {
    this.kind = kind;
    this.specs = importColumns[kind];
    this.refs = refs;
  }

  /** True once a fatal error (bad header, unparsable CSV) makes further rows meaningless. */
  get stopped(): boolean {
    return this.fatal;
  }

  error(line: number, message: string, column?: string): void {
    this.errorCount++;
    if (this.errors.length < MAX_LISTED_ERRORS) this.errors.push(column ? { line, column, message } : { line, message });
  }

  /** The CSV itself could not be read (unclosed quote, bad encoding…). */
  fail(line: number, message: string): void {
    this.error(line, message);
    this.fatal = true;
  }

  /** Validates a batch of parsed records ([line, fields]); the first record of a file is its header. */
  async consume(batch: [number, string[]][]): Promise<void> {
    let start = 0;
    if (!this.headerSeen && batch.length > 0) {
      this.header(batch[0][1]);
      start = 1;
    }
    if (this.fatal) return;
    const rest = start === 0 ? batch : batch.slice(start);
    await this.prepare(rest);
    for (const [line, fields] of rest) this.row(line, fields);
  }

  /** Loads the reference maps a batch of records will need. */
  private async prepare(batch: [number, string[]][]): Promise<void> {
    if (this.kind === "devices" && !this.userMap) {
      const upnAt = this.positionOf("userPrincipalName");
      if (upnAt >= 0 && batch.some(([, r]) => (r[upnAt] ?? "").trim() !== "")) this.userMap = await this.refs.users();
    }
    if (this.kind === "members") {
      if (!this.groupList) await this.loadGroups();
      const typeAt = this.positionOf("memberType");
      if (!this.userMap || !this.deviceMap)
        for (const [, r] of batch) {
          const t = (r[typeAt] ?? "").trim().toLowerCase();
          if (t === "user") this.needsUsers = true;
          else if (t === "device") this.needsDevices = true;
        }
      if (this.needsUsers && !this.userMap) this.userMap = await this.refs.users();
      if (this.needsDevices && !this.deviceMap) this.deviceMap = await this.refs.devices();
    }
  }

  private async loadGroups() {
    this.groupList = await this.refs.groups();
    this.groupIndex = new Map();
    this.groupById = new Map();
    this.groupList.forEach((g, i) => {
      if (g.key !== null) this.groupIndex!.set(g.key, i);
      this.groupById!.set(g.id, i);
    });
  }

  private positionOf(name: string): number {
    return this.specPos[this.specs.findIndex((s) => s.name === name)];
  }

  header(fields: string[]): void {
    this.headerSeen = true;
    const seen = new Map<string, number>();
    const unknown: string[] = [];
    this.mapping = fields.map((raw, i) => {
      const name = raw.trim();
      const lower = name.toLowerCase();
      const idx = this.specs.findIndex((s) => s.name.toLowerCase() === lower);
      if (idx < 0) {
        unknown.push(name === "" ? `(empty name in position ${i + 1})` : name);
        return -1;
      }
      if (seen.has(lower)) {
        this.error(1, `The column '${this.specs[idx].name}' appears more than once in the header.`, this.specs[idx].name);
        return -1;
      }
      seen.set(lower, i);
      return idx;
    });
    if (unknown.length > 0)
      this.error(1, `Unknown column${unknown.length > 1 ? "s" : ""} ${unknown.map((u) => `'${u}'`).join(", ")} for a ${this.kind} import; the columns are ${this.specs.map((s) => s.name).join(", ")}.`);
    const missing = this.specs.filter((s, i) => s.required && !this.mapping.includes(i)).map((s) => s.name);
    if (missing.length > 0) this.error(1, `Required column${missing.length > 1 ? "s" : ""} ${missing.map((m) => `'${m}'`).join(", ")} missing from the header.`);
    if (this.errorCount > 0) {
      this.fatal = true;
      return;
    }
    this.specPos = this.specs.map((_s, i) => this.mapping.indexOf(i));
    this.keyAt = this.specs.findIndex((s) => s.key);
    if (this.kind !== "members") {
      for (const [i, s] of this.specs.entries()) {
        if (!s.column) continue;
        if (this.mapping.includes(i)) this.present.add(s.column);
        if (this.mapping.includes(i) || s.default !== undefined) this.columns[s.column] = [];
      }
    }
  }

  /** Checks one cell against its spec; returns the stored value, or undefined when invalid. */
  private cell(spec: ColumnSpec, raw: string | undefined, line: number): string | null | undefined {
    const v = (raw ?? "").trim();
    if (v === "") {
      if (spec.required) {
        this.error(line, `A value for '${spec.name}' is required.`, spec.name);
        return undefined;
      }
      return spec.default ?? null;
    }
    switch (spec.type) {
      case "boolean": {
        const l = v.toLowerCase();
        if (l === "true" || l === "false") return l;
        this.error(line, `'${v}' is not a valid value for '${spec.name}': use true or false.`, spec.name);
        return undefined;
      }
      case "enum": {
        const l = v.toLowerCase();
        const found = spec.values!.find((x) => x.toLowerCase() === l);
        if (found) return found;
        this.error(line, `'${v}' is not a valid value for '${spec.name}': use one of ${spec.values!.join(", ")}.`, spec.name);
        return undefined;
      }
      default: {
        if (spec.maxLength !== undefined && v.length > spec.maxLength) {
          this.error(line, `The value for '${spec.name}' is longer than ${spec.maxLength} characters.`, spec.name);
          return undefined;
        }
        if (spec.pattern && !spec.pattern.test(v)) {
          this.error(line, `'${v}' is not a valid value for '${spec.name}': expected ${spec.patternHint}.`, spec.name);
          return undefined;
        }
        return spec.normalize ? spec.normalize(v) : v;
      }
    }
  }

  private row(line: number, fields: string[]): void {
    if (this.fatal) return;
    this.rows++;
    const before = this.errorCount;
    if (fields.length !== this.mapping.length) {
      this.error(line, `Expected ${this.mapping.length} columns as in the header, found ${fields.length}.`);
      return;
    }
    const values: (string | null | undefined)[] = new Array(this.specs.length).fill(null);
    for (let s = 0; s < this.specs.length; s++) {
      const pos = this.specPos[s];
      values[s] = pos < 0 ? (this.specs[s].default ?? null) : this.cell(this.specs[s], fields[pos], line);
    }
    if (this.errorCount === before) {
      if (this.kind === "members") this.memberRow(line, values as (string | null)[]);
      else this.entityRow(line, values as (string | null)[]);
    }
  }

  private entityRow(line: number, values: (string | null)[]): void {
    const keySpec = this.specs[this.keyAt];
    const raw = values[this.keyAt]!;
    const key = this.kind === "devices" ? raw.toUpperCase() : raw.toLowerCase();
    const first = this.keys.get(key);
    if (first !== undefined) {
      this.error(line, `Duplicate ${keySpec.name} '${raw}': it is already on line ${first}.`, keySpec.name);
      return;
    }
    let userId: string | null = null;
    if (this.kind === "devices") {
      const upn = values[this.specs.findIndex((s) => s.name === "userPrincipalName")];
      if (upn) {
        const at = this.userMap?.keys.get(upn.toLowerCase());
        const id = at === undefined ? undefined : this.userMap!.ids[at];
        if (!id) {
          this.error(line, `No user with userPrincipalName '${upn}' exists; import users first.`, "userPrincipalName");
          return;
        }
        userId = id;
      }
    }
    this.keys.set(key, line);
    for (let s = 0; s < this.specs.length; s++) {
      const col = this.specs[s].column;
      if (col && this.columns[col]) this.columns[col].push(values[s]);
    }
    if (this.kind === "devices") this.deviceUsers.push(userId);
  }

  private memberRow(line: number, values: (string | null)[]): void {
    const [groupName, typeRaw, memberRaw] = values as string[];
    const type = typeRaw as "user" | "device" | "group";
    // Files list a group's members together: remember the last group looked up.
    let gi: number | undefined;
    if (groupName === this.lastGroupName) gi = this.lastGroupIndex;
    else {
      gi = this.groupIndex!.get(groupName.toLowerCase());
      this.lastGroupName = groupName;
      this.lastGroupIndex = gi;
    }
    if (gi === undefined) {
      this.error(line, `No group with mailNickname '${groupName}' exists; import groups first.`, "groupMailNickname");
      return;
    }
    const group = this.groupList![gi];
    // One dense number per object (position × 3 + type) so (group, member) pairs dedupe cheaply.
    let at: number | undefined;
    let memberId: string | undefined;
    let objectKey = 0;
    if (type === "user") {
      at = this.userMap!.keys.get(memberRaw.toLowerCase());
      if (at !== undefined) memberId = this.userMap!.ids[at];
      objectKey = (at ?? 0) * 3;
    } else if (type === "device") {
      at = this.deviceMap!.keys.get(memberRaw.toUpperCase());
      if (at !== undefined) memberId = this.deviceMap!.ids[at];
      objectKey = (at ?? 0) * 3 + 1;
    } else {
      at = this.groupIndex!.get(memberRaw.toLowerCase());
      if (at !== undefined) memberId = this.groupList![at].id;
      objectKey = (at ?? 0) * 3 + 2;
    }
    if (!memberId) {
      const what = type === "user" ? "user with userPrincipalName" : type === "device" ? "managed device with serialNumber" : "group with mailNickname";
      this.error(line, `No ${what} '${memberRaw}' exists.`, "member");
      return;
    }
    if (type === "user" && group.memberKind === "device") {
      this.error(line, `The group '${groupName}' is a device group; the user '${memberRaw}' cannot be a member.`, "member");
      return;
    }
    if (type === "device" && group.memberKind === "user") {
      this.error(line, `The group '${groupName}' is a user group; the device '${memberRaw}' cannot be a member.`, "member");
      return;
    }
    if (type === "group" && memberId === group.id) {
      this.error(line, `The group '${groupName}' cannot be a member of itself.`, "member");
      return;
    }
    let lines = this.memberLines.get(gi);
    if (!lines) {
      lines = new Map();
      this.memberLines.set(gi, lines);
    }
    const key = objectKey;
    const first = lines.get(key);
    if (first !== undefined) {
      this.error(line, `Duplicate membership: ${type} '${memberRaw}' in group '${groupName}' is already on line ${first}.`);
      return;
    }
    lines.set(key, line);
    if (type === "group") this.newGroupEdges.push({ parent: gi, child: at!, line });
    this.groupIds.push(group.id);
    this.memberIds.push(memberId);
    this.memberTypes.push(type);
  }

  /** Checks that need the whole file (cycles, kind changes) and returns the plan or the errors. */
  async finish(): Promise<{ ok: true; plan: ImportPlan } | { ok: false; errors: ImportError[]; errorCount: number }> {
    if (!this.fatal && !this.headerSeen) this.error(1, "The file is empty: it needs a header row and at least one data row.");
    else if (!this.fatal && this.rows === 0) this.error(2, "The file has a header but no data rows.");
    if (!this.fatal && this.kind === "members" && this.newGroupEdges.length > 0) await this.checkCycles();
    if (!this.fatal && this.kind === "groups") await this.checkKindChanges();
    if (this.errorCount > 0) {
      this.errors.sort((a, b) => a.line - b.line);
      return { ok: false, errors: this.errors, errorCount: this.errorCount };
    }
    if (this.kind === "members")
      return { ok: true, plan: { kind: "members", rows: this.rows, groupIds: this.groupIds, memberIds: this.memberIds, memberTypes: this.memberTypes } };
    const columns = { ...this.columns };
    const present = [...this.present];
    if (this.kind === "devices" && this.positionOf("userPrincipalName") >= 0) {
      columns.user_id = this.deviceUsers;
      present.push("user_id");
    }
    return { ok: true, plan: { kind: this.kind, rows: this.rows, columns, present } };
  }

  /** Existing group-in-group edges plus the file's must stay acyclic (Tarjan's SCC, iterative). */
  private async checkCycles(): Promise<void> {
    const n = this.groupList!.length;
    const adj: number[][] = Array.from({ length: n }, () => []);
    for (const e of await this.refs.groupEdges()) {
      const p = this.groupById!.get(e.parent);
      const c = this.groupById!.get(e.child);
      if (p !== undefined && c !== undefined) adj[p].push(c);
    }
    for (const e of this.newGroupEdges) adj[e.parent].push(e.child);
    const index = new Int32Array(n).fill(-1);
    const low = new Int32Array(n);
    const onStack = new Uint8Array(n);
    const comp = new Int32Array(n).fill(-1);
    const stack: number[] = [];
    let counter = 0;
    let comps = 0;
    for (let root = 0; root < n; root++) {
      if (index[root] >= 0) continue;
      const work: [number, number][] = [[root, 0]];
      while (work.length > 0) {
        const top = work[work.length - 1];
        const [v, i] = top;
        if (i === 0 && index[v] < 0) {
          index[v] = low[v] = counter++;
          stack.push(v);
          onStack[v] = 1;
        }
        if (i < adj[v].length) {
          top[1]++;
          const w = adj[v][i];
          if (index[w] < 0) work.push([w, 0]);
          else if (onStack[w]) low[v] = Math.min(low[v], index[w]);
          continue;
        }
        work.pop();
        if (work.length > 0) {
          const parent = work[work.length - 1][0];
          low[parent] = Math.min(low[parent], low[v]);
        }
        if (low[v] === index[v]) {
          let w: number;
          do {
            w = stack.pop()!;
            onStack[w] = 0;
            comp[w] = comps;
          } while (w !== v);
          comps++;
        }
      }
    }
    for (const e of this.newGroupEdges) {
      if (comp[e.parent] === comp[e.child]) {
        const p = this.groupList![e.parent];
        const c = this.groupList![e.child];
        this.error(e.line, `Adding the group '${c.key ?? c.displayName}' to '${p.key ?? p.displayName}' would create a membership cycle.`, "member");
      }
    }
  }

  /** A group turned into a user (device) group must not already hold devices (users). */
  private async checkKindChanges(): Promise<void> {
    const kinds = this.columns.member_kind;
    if (!this.present.has("member_kind")) return;
    if (!this.groupList) await this.loadGroups();
    const keys = this.columns.mail_nickname;
    for (const target of ["user", "device"] as const) {
      const changed: { id: string; i: number }[] = [];
      for (let i = 0; i < kinds.length; i++) {
        if (kinds[i] !== target) continue;
        const gi = this.groupIndex!.get(keys[i]!.toLowerCase());
        if (gi !== undefined && this.groupList![gi].memberKind !== target) changed.push({ id: this.groupList![gi].id, i });
      }
      if (changed.length === 0) continue;
      const wrong = target === "user" ? "device" : "user";
      const clashing = new Set(await this.refs.groupsWithMemberType(changed.map((c) => c.id), wrong));
      for (const c of changed) {
        if (!clashing.has(c.id)) continue;
        const line = this.keys.get(keys[c.i]!.toLowerCase()) ?? 0;
        this.error(line, `The group '${keys[c.i]}' has ${wrong} members; remove them before making it a ${target} group.`, "memberKind");
      }
    }
  }
}

/** Line breaks inside a record's quoted fields: [all \n, those written as \r\n]. */
function breaksIn(fields: string[]): [number, number] {
  let n = 0;
  let crlf = 0;
  for (const f of fields) {
    if (f.length === 0 || !f.includes("\n")) continue;
    for (let i = f.indexOf("\n"); i >= 0; i = f.indexOf("\n", i + 1)) {
      n++;
      if (i > 0 && f[i - 1] === "\r") crlf++;
    }
  }
  return [n, crlf];
}

/**
 * Reads a CSV stream to its end, feeding every record to the validator in batches (one batch per
 * incoming chunk) and every raw chunk to `sink` (the spool file). The source is always drained,
 * even after the CSV turned out unreadable, so the HTTP response can still be sent.
 */
export async function readCsv(source: AsyncIterable<Buffer | string>, validator: ImportValidator, sink?: (chunk: Buffer) => Promise<void> | void): Promise<void> {
  let pending: [number, string[]][] = [];
  // csv-parse counts a \r\n inside quotes as two lines; keep the record's first line exact.
  let overcounted = 0;
  let parseError: CsvError | Error | undefined;
  const parser = parse({
    bom: true,
    relax_column_count: true,
    skip_empty_lines: true,
    on_record: (record: string[], ctx) => {
      const [breaks, crlf] = breaksIn(record);
      overcounted += crlf;
      pending.push([ctx.lines - overcounted - breaks, record]);
      return null;
    },
  });
  parser.on("error", (err) => {
    parseError ??= err;
  });
  parser.resume();
  const ended = once(parser, "end").catch(() => undefined);
  const flush = async () => {
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    if (!validator.stopped) await validator.consume(batch);
  };
  for await (const raw of source) {
    const chunk = typeof raw === "string" ? Buffer.from(raw) : raw;
    if (sink && !validator.stopped) await sink(chunk);
    if (parseError || validator.stopped) continue;
    parser.write(chunk);
    await flush();
  }
  if (!parseError && !validator.stopped) {
    parser.end();
    await ended;
    await flush();
  }
  if (parseError) {
    const line = parseError instanceof CsvError ? Number((parseError as CsvError & { lines?: number }).lines ?? 0) : 0;
    validator.fail(line, `The file is not valid CSV: ${parseError.message}`);
  }
}
