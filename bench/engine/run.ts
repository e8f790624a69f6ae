// Engine benchmark, compute only (`node --expose-gc bench/engine/run.ts [--scale 1] [--seed N]`):
// generates the fixed-seed directory and apps (bench/engine/generate.ts), builds the directory index,
// plans all 500 apps from an empty ledger (the initial full reconcile), plans them again over the
// ≈1M-row ledger that results (the full reconcile after a sync), and times an incremental plan after
// one membership change. Prints times, heap and peak RSS, each with its ratio to target.
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import {
  type AppInput,
  type AppPlan,
  applyAppleUserOps,
  applyPlan,
  buildDirectoryIndex,
  CONSUMING_STATES,
  type DirectoryInput,
  planApp,
  planAppIncremental,
  planApps,
  sliceForIncremental,
} from "../../src/engine/index.ts";
import { FULL_SCALE, generate } from "./generate.ts";

const { values: args } = parseArgs({
  options: {
    scale: { type: "string", default: "1" },
    seed: { type: "string", default: "20261121" },
    runs: { type: "string", default: "21" },
  },
});
const scale = Number(args.scale);
const seed = Number(args.seed);
const NOW = Date.UTC(2026, 2, 1);
const options = { now: NOW };
const targets = { fullSeconds: 5, incrementalMs: 10, heapMB: 1024 };

const gc = (globalThis as { gc?: () => void }).gc;
const mb = (b: number) => b / 1024 / 1024;
let peakHeap = 0;
const sampleHeap = () => {
  const h = process.memoryUsage().heapUsed;
  if (h > peakHeap) peakHeap = h;
};
function report(name: string, value: number, unit: string, target?: number) {
  const v = unit === "ms" ? value.toFixed(2) : unit === "s" ? value.toFixed(2) : value.toFixed(0);
  const r =
    target !== undefined
      ? `  (target ${target} ${unit}; ratio ${(value / target).toFixed(2)}${value <= target ? " ✓" : " ✗"})`
      : "";
  console.log(`${name.padEnd(56)} ${`${v} ${unit}`.padStart(14)}${r}`);
}
const count = (n: number) => n.toLocaleString("en-US");
/** CPU seconds (user + system) of this process since `from` — less sensitive than wall time to a busy machine. */
const cpuSince = (from: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1e6;
};

console.log(
  `engine benchmark — scale ${scale}, seed ${seed}, Node ${process.version}, load ${loadavg()
    .map((x) => x.toFixed(2))
    .join(" ")}`,
);
if (!gc) console.log("(run with --expose-gc for heap figures after collection)");

const sc = {
  ...FULL_SCALE,
  users: Math.round(FULL_SCALE.users * scale),
  devices: Math.round(FULL_SCALE.devices * scale),
  apps: Math.max(1, Math.round(FULL_SCALE.apps * scale)),
};
let t = performance.now();
const data = generate(seed, sc);
report("generate inputs (not part of the engine)", (performance.now() - t) / 1000, "s");
console.log(
  `  ${count(data.directory.users.length)} users, ${count(data.directory.devices.length)} devices, ${count(data.groups)} groups, ` +
    `${count(data.directory.memberships.length)} direct memberships (${count(data.nestedEdges)} nested), ` +
    `${count(data.apps.length)} apps, ${count(data.apps.reduce((n, a) => n + a.assignments.length, 0))} assignments`,
);
gc?.();
const baseHeap = process.memoryUsage().heapUsed;

// 1. index
t = performance.now();
let cpu = process.cpuUsage();
const ix = buildDirectoryIndex(data.directory);
const indexSeconds = (performance.now() - t) / 1000;
const indexCpu = cpuSince(cpu);
report("build directory index", indexSeconds, "s");
report("  CPU time", indexCpu, "s");

// 2. full plan from an empty ledger (plans are consumed one by one and dropped)
interface Tally {
  desired: number;
  licensed: number;
  waiting: number;
  ops: Record<string, number>;
}
const tally = (): Tally => ({ desired: 0, licensed: 0, waiting: 0, ops: {} });
function add(tl: Tally, p: AppPlan) {
  for (const h of p.holdings) if (h.state !== null) tl.desired++;
  tl.licensed += p.counts.licensed;
  tl.waiting += p.counts.waiting;
  for (const o of p.operations) tl.ops[o.kind] = (tl.ops[o.kind] ?? 0) + 1;
}
gc?.();
peakHeap = 0;
const initial = tally();
t = performance.now();
cpu = process.cpuUsage();
let k = 0;
for (const p of planApps(ix, data.apps, options)) {
  add(initial, p);
  if (++k % 25 === 0) sampleHeap();
}
const initialSeconds = (performance.now() - t) / 1000;
const initialCpu = cpuSince(cpu);
report("full plan, empty ledger (initial reconcile)", initialSeconds, "s", targets.fullSeconds);
report("  CPU time", initialCpu, "s", targets.fullSeconds);
report("  + index", initialSeconds + indexSeconds, "s", targets.fullSeconds);
report("  + index, CPU time", initialCpu + indexCpu, "s", targets.fullSeconds);
console.log(
  `  desired holdings ${count(initial.desired)} (licensed ${count(initial.licensed)}, waiting ${count(initial.waiting)}); ` +
    `operations ${Object.entries(initial.ops)
      .map(([kk, n]) => `${kk} ${count(n)}`)
      .join(", ")}`,
);
report("  peak heap above inputs (sampled)", mb(peakHeap - baseHeap), "MB", targets.heapMB);

// 3. the ledger that results (applied and settled by the store), then the full plan again
const settled: AppInput[] = [];
k = 0;
for (const p of planApps(ix, data.apps, options)) {
  const next = applyPlan(data.apps[k], p, NOW);
  settled.push({
    ...next,
    holdings: settle(next).holdings,
  });
  data.apps[k] = next; // drop the empty-ledger input
  k++;
}
const ledgerRows = settled.reduce((n, a) => n + a.holdings.length, 0);
gc?.();
const ledgerHeap = process.memoryUsage().heapUsed;
peakHeap = 0;
const again = tally();
t = performance.now();
cpu = process.cpuUsage();
k = 0;
for (const p of planApps(ix, settled, options)) {
  add(again, p);
  if (++k % 25 === 0) sampleHeap();
}
const againSeconds = (performance.now() - t) / 1000;
report(
  `full plan over a ${count(ledgerRows)}-row ledger (after a sync)`,
  againSeconds,
  "s",
  targets.fullSeconds,
);
report("  CPU time", cpuSince(cpu), "s", targets.fullSeconds);
console.log(
  `  operations ${Object.entries(again.ops)
    .map(([kk, n]) => `${kk} ${count(n)}`)
    .join(", ")}`,
);
report(
  "  peak heap above inputs + ledger (sampled)",
  mb(Math.max(0, peakHeap - ledgerHeap)),
  "MB",
  targets.heapMB,
);

// 4. incremental: one user joins a user group that an app targets (the app with the largest queue)
const target = settled
  .map((a, i) => ({ i, waiting: a.holdings.filter((h) => h.state === "waiting").length, a }))
  .filter(({ a }) =>
    a.assignments.some(
      (x) => x.target.kind === "group" && !x.settings.useDeviceLicensing && x.intent === "required",
    ),
  )
  .sort((x, y) => y.waiting - x.waiting)[0];
if (target) {
  // bring that app to its steady state first (installs queued and done, Apple users invited), as the
  // ledger is after the previous reconcile has been applied and settled
  let appIn = target.a;
  let base: DirectoryInput = data.directory;
  for (let round = 0; round < 5; round++) {
    const p = planApp(buildDirectoryIndex(base), appIn, options);
    if (p.operations.length === 0) break;
    appIn = settle(applyPlan(appIn, p, NOW));
    base = applyAppleUserOps(base, p.operations);
  }
  const asg = appIn.assignments.find(
    (x) => x.target.kind === "group" && !x.settings.useDeviceLicensing && x.intent === "required",
  )!;
  const inGroup = new Set(
    base.memberships.filter((e) => e.groupId === asg.target.groupId).map((e) => e.memberId),
  );
  const newcomer = base.users.find((u) => u.enabled && !inGroup.has(u.id))!;
  const directory: DirectoryInput = {
    ...base,
    memberships: [
      ...base.memberships,
      { groupId: asg.target.groupId!, memberId: newcomer.id, memberType: "user", joinedAt: NOW - 1000 },
    ],
  };
  t = performance.now();
  const slice = sliceForIncremental(directory, appIn, { users: [newcomer.id] });
  const sliceMs = performance.now() - t;
  const times: number[] = [];
  const runs = Number(args.runs);
  let inc = null;
  for (let r = 0; r < runs; r++) {
    t = performance.now();
    const six = buildDirectoryIndex(slice.directory);
    inc = planAppIncremental(six, slice.input, options);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  report(
    "incremental plan, one membership change (median)",
    times[Math.floor(runs / 2)],
    "ms",
    targets.incrementalMs,
  );
  const consuming = appIn.holdings.filter((h) => CONSUMING_STATES.has(h.state)).length;
  console.log(
    `  app ${appIn.app.id}: ${count(appIn.holdings.length)} ledger rows (${count(consuming)} consuming, total ${count(appIn.app.totalCount)}); ` +
      `slice ${count(slice.directory.users.length)} users, ${count(slice.directory.devices.length)} devices, ${count(slice.directory.memberships.length)} edges, ` +
      `${slice.input.queue.length} queue rows; decisions ${inc!.holdings.length}, operations ${inc!.operations.map((o) => o.kind).join(", ") || "none"}`,
  );
  console.log(
    `  (cutting the slice from the full inputs in JS took ${sliceMs.toFixed(0)} ms; the ledger service reads it with SQL)`,
  );
  // check: the full plan of that app agrees
  const full = planApp(buildDirectoryIndex(directory), appIn, options);
  const same = JSON.stringify(full.operations) === JSON.stringify(inc!.operations);
  console.log(`  incremental operations equal the full plan's: ${same ? "yes" : "NO"}`);
  if (!same) process.exitCode = 1;
}
function settle(a: AppInput): AppInput {
  return {
    ...a,
    holdings: a.holdings.map((h) =>
      h.state === "pendingAssign"
        ? { ...h, state: "assigned" }
        : h.state === "pendingRelease"
          ? { ...h, state: "released" }
          : h,
    ),
    installs: (a.installs ?? []).map((i) =>
      i.state === "installPending"
        ? { ...i, state: "installed" }
        : i.state === "removePending"
          ? { ...i, state: "removed" }
          : i,
    ),
  };
}

const rss = process.resourceUsage().maxRSS / 1024;
report("peak RSS of this process (inputs, index, ledger, plans)", rss, "MB");
