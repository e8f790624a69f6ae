// Builders and a store/MDM simulation shared by the engine's tests (imported only by *.test.ts).
import { applyAppleUserOps, applyPlan } from "./apply.ts";
import { buildDirectoryIndex } from "./directory.ts";
import { planApp } from "./plan.ts";
import type {
  AppInput,
  AppPlan,
  AssignmentSettings,
  DirectoryInput,
  EngineApp,
  EngineAssignment,
  EngineDevice,
  EngineUser,
  Intent,
  PlanOptions,
  TargetKind,
} from "./types.ts";

export const T0 = Date.UTC(2026, 0, 1);
export const HOUR = 3600_000;

export function user(n: number, extra: Partial<EngineUser> = {}): EngineUser {
  return { id: `u${n}`, seq: n, createdAt: T0, enabled: true, ...extra };
}

export function device(n: number, extra: Partial<EngineDevice> = {}): EngineDevice {
  return {
    id: `d${n}`,
    seq: n,
    createdAt: T0,
    serialNumber: `SN${n}`,
    operatingSystem: "iOS",
    userId: null,
    itunesStoreBlocked: false,
    managed: true,
    ...extra,
  };
}

export function app(extra: Partial<EngineApp> = {}): EngineApp {
  return {
    id: "app1",
    tokenId: "tok1",
    totalCount: 100,
    deviceAssignable: true,
    revocable: true,
    productType: "App",
    supportedPlatforms: ["iOS", "macOS"],
    token: "usable",
    ...extra,
  };
}

export function assignment(
  id: string,
  seq: number,
  kind: TargetKind,
  groupId: string | null,
  intent: Intent,
  settings: Partial<AssignmentSettings> = {},
): EngineAssignment {
  return {
    id,
    seq,
    createdAt: T0 + seq,
    target: { kind, groupId },
    intent,
    settings: { useDeviceLicensing: false, ...settings },
  };
}

/** The worker and the MDM doing their part: associations and releases confirmed, commands executed. */
export function settle(input: AppInput, now: number): AppInput {
  return {
    ...input,
    holdings: input.holdings.map((h) =>
      h.state === "pendingAssign"
        ? { ...h, state: "assigned", since: now }
        : h.state === "pendingRelease"
          ? { ...h, state: "released", since: now }
          : h,
    ),
    installs: (input.installs ?? []).map((i) =>
      i.state === "installPending"
        ? { ...i, state: "installed", since: now }
        : i.state === "removePending"
          ? { ...i, state: "removed", since: now }
          : i,
    ),
  };
}

export interface World {
  directory: DirectoryInput;
  input: AppInput;
}

/** Plan, apply, settle, until a plan has nothing left to do. Returns the plans made. */
export function runToSteady(
  world: World,
  options: PlanOptions,
  maxRounds = 10,
): { world: World; plans: AppPlan[] } {
  let { directory, input } = world;
  const plans: AppPlan[] = [];
  for (let round = 0; round < maxRounds; round++) {
    const plan = planApp(buildDirectoryIndex(directory), input, options);
    if (plan.operations.length === 0 && !plan.holdings.some((h) => h.changed))
      return { world: { directory, input }, plans };
    plans.push(plan);
    input = settle(applyPlan(input, plan, options.now), options.now);
    directory = applyAppleUserOps(directory, plan.operations);
  }
  throw new Error("runToSteady: no steady state");
}

/** Apply a plan without settling (ledger as the plan left it). */
export function applyOnly(world: World, plan: AppPlan, now: number): World {
  return {
    directory: applyAppleUserOps(world.directory, plan.operations),
    input: applyPlan(world.input, plan, now),
  };
}

export function decisionOf(plan: { holdings: AppPlan["holdings"] }, type: "user" | "device", id: string) {
  return plan.holdings.find((h) => h.holderType === type && h.holderId === id);
}
