// Deterministic CSV data for the directory benchmark (fixed seed): users, managed devices, groups
// (a root group nesting three levels of groups that hold every user, plus flat groups) and
// memberships. `scale` 1 = 100k users, 100k devices, 5k groups, 1M memberships.
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { join } from "node:path";

export interface BenchData {
  dir: string;
  files: { users: string; devices: string; groups: string; members: string };
  counts: { users: number; devices: number; groups: number; members: number };
  /** mailNickname of the nested group holding every user (transitively). */
  rootGroup: string;
  /** Its expected transitive member count (users + nested groups). */
  rootTransitiveCount: number;
  /** Users whose displayName starts with 'a' (case-insensitive). */
  usersStartingWithA: number;
}

/** mulberry32: small, fast, deterministic. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const firstNames = ["Ada", "Alan", "Amelia", "Anna", "Arthur", "Beatrice", "Bob", "Carol", "Charles", "Chen", "Dana", "David", "Elena", "Emil", "Fatima", "Felix", "Grace", "Hana", "Hugo", "Ines", "Ivan", "Jada", "Jonas", "Kai", "Lena", "Liam", "Maya", "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tara", "Uma", "Victor", "Wen", "Yara", "Zoe"];
const lastNames = ["Abbott", "Baker", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Hansen", "Ito", "Jensen", "Kowalski", "Lopez", "Moreau", "Novak", "Okafor", "Petrov", "Quinn", "Rossi", "Silva", "Tanaka", "Usman", "Varga", "Weber", "Xu", "Yilmaz", "Zhang"];
const departments = ["Sales", "Engineering", "Finance", "Operations", "Marketing", "Support", "Legal", "Research"];
const countries = ["US", "GB", "DE", "FR", "JP", "IN", "BR", "AU"];

function csvField(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

class CsvOut {
  private stream;
  private buf: string[] = [];
  constructor(path: string, header: string[]) {
    this.stream = createWriteStream(path);
    this.buf.push(`${header.join(",")}\n`);
  }
  async row(fields: string[]) {
    this.buf.push(`${fields.map(csvField).join(",")}\n`);
    if (this.buf.length >= 5000) await this.flush();
  }
  async flush() {
    if (this.buf.length === 0) return;
    const ok = this.stream.write(this.buf.join(""));
    this.buf = [];
    if (!ok) await once(this.stream, "drain");
  }
  async close() {
    await this.flush();
    this.stream.end();
    await once(this.stream, "finish");
  }
}

export async function generate(dir: string, scale = 1, seed = 20261121): Promise<BenchData> {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)];
  const U = Math.max(10, Math.round(100_000 * scale));
  const D = Math.max(10, Math.round(100_000 * scale));
  const G = Math.max(60, Math.round(5_000 * scale));
  const M = Math.max(200, Math.round(1_000_000 * scale));
  const files = { users: join(dir, "users.csv"), devices: join(dir, "devices.csv"), groups: join(dir, "groups.csv"), members: join(dir, "members.csv") };
  const upn = (i: number) => `user${String(i).padStart(6, "0")}@bench.allot.test`;
  const serial = (i: number) => `SN${String(i).padStart(8, "0")}`;

  // users
  let startingWithA = 0;
  const users = new CsvOut(files.users, ["userPrincipalName", "displayName", "accountEnabled", "mail", "usageLocation", "givenName", "surname", "jobTitle", "department"]);
  for (let i = 0; i < U; i++) {
    const given = pick(firstNames);
    const sur = pick(lastNames);
    const display = `${given} ${sur}`;
    if (display[0].toLowerCase() === "a") startingWithA++;
    await users.row([upn(i), display, rnd() < 0.02 ? "false" : "true", upn(i), pick(countries), given, sur, "Staff", pick(departments)]);
  }
  await users.close();

  // devices (nine in ten have a primary user)
  const oses = ["iOS", "iOS", "iPadOS", "macOS", "Windows"] as const;
  const devices = new CsvOut(files.devices, ["serialNumber", "deviceName", "operatingSystem", "osVersion", "managedDeviceOwnerType", "isSupervised", "userPrincipalName", "joinType", "kioskMode"]);
  for (let i = 0; i < D; i++) {
    const os = pick(oses);
    await devices.row([
      serial(i),
      `${os}-${String(i).padStart(6, "0")}`,
      os,
      os === "Windows" ? "10.0.22631" : "17.5",
      rnd() < 0.9 ? "company" : "personal",
      rnd() < 0.7 ? "true" : "false",
      rnd() < 0.9 ? upn(Math.floor(rnd() * U)) : "",
      os === "Windows" ? "azureADJoined" : "unknown",
      rnd() < 0.03 ? "true" : "false",
    ]);
  }
  await devices.close();

  // groups: root → b level-1 → b² level-2 → b³ leaves (nesting depth 3) holding every user, then flat groups
  const b = G >= 1111 ? 10 : 3;
  const tree: { nick: string; parent?: string; level: number }[] = [{ nick: "bench-root", level: 0 }];
  for (let level = 1; level <= 3; level++)
    for (const p of tree.filter((g) => g.level === level - 1)) for (let k = 0; k < b; k++) tree.push({ nick: `${p.nick === "bench-root" ? "bench" : p.nick}-${k}`, parent: p.nick, level });
  const leaves = tree.filter((g) => g.level === 3);
  const flat = G - tree.length;
  const groups = new CsvOut(files.groups, ["mailNickname", "displayName", "description", "memberKind"]);
  for (const g of tree) await groups.row([g.nick, `Bench ${g.nick}`, `Nested level ${g.level}`, g.level === 3 ? "user" : "mixed"]);
  const flatKinds = ["user", "device", "mixed"] as const;
  for (let k = 0; k < flat; k++) await groups.row([`flat-${k}`, `${pick(departments)} team ${k}`, "", flatKinds[k % 3]]);
  await groups.close();

  // memberships
  const members = new CsvOut(files.members, ["groupMailNickname", "memberType", "member"]);
  let edges = 0;
  for (const g of tree) if (g.parent) {
    await members.row([g.parent, "group", g.nick]);
    edges++;
  }
  for (let i = 0; i < U; i++) {
    await members.row([leaves[i % leaves.length].nick, "user", upn(i)]);
    edges++;
  }
  const rest = M - edges;
  for (let k = 0; k < flat; k++) {
    const n = Math.floor(rest / flat) + (k < rest % flat ? 1 : 0);
    const kind = flatKinds[k % 3];
    const nUsers = kind === "user" ? n : kind === "device" ? 0 : Math.floor(n / 2);
    const nDevices = n - nUsers;
    const uStart = Math.floor(rnd() * U);
    const dStart = Math.floor(rnd() * D);
    for (let j = 0; j < nUsers; j++) await members.row([`flat-${k}`, "user", upn((uStart + j) % U)]);
    for (let j = 0; j < nDevices; j++) await members.row([`flat-${k}`, "device", serial((dStart + j) % D)]);
    edges += n;
  }
  await members.close();

  return {
    dir,
    files,
    counts: { users: U, devices: D, groups: G, members: edges },
    rootGroup: "bench-root",
    rootTransitiveCount: U + tree.length - 1,
    usersStartingWithA: startingWithA,
  };
}
