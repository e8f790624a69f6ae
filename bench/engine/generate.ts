// Fixed-seed inputs for the engine benchmark: 200k users, 300k devices, 2k groups nested to depth 3,
// ~1M direct memberships, 500 apps with 2k assignments (≈1M desired holdings), totals covering about
// half of each app's entitled members. Everything is derived from one 32-bit seed (mulberry32).
import type {
  AppInput,
  AppleUserRecord,
  DeviceOs,
  DirectoryInput,
  EngineAssignment,
  EngineDevice,
  EngineUser,
  InstallRequest,
  MembershipEdge,
} from "../../src/engine/index.ts";

export interface EngineBenchScale {
  users: number;
  devices: number;
  apps: number;
  assignmentsPerApp: number;
  tokens: number;
}

export const FULL_SCALE: EngineBenchScale = {
  users: 200_000,
  devices: 300_000,
  apps: 500,
  assignmentsPerApp: 4,
  tokens: 2,
};

function mulberry32(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DAY = 86_400_000;
const START = Date.UTC(2025, 0, 1);

export interface EngineBenchData {
  directory: DirectoryInput;
  apps: AppInput[];
  groups: number;
  nestedEdges: number;
}

/**
 * Groups: 20 roots ⊃ 4 mid groups each ⊃ 20 leaf groups each (1,600 leaves: 800 of users, 800 of
 * devices; depth 3), plus 320 flat groups (half users, half devices) — 2,000 groups. Every user is in
 * one user leaf and one flat user group, every device in one device leaf and one flat device group.
 */
export function generate(seed = 20261121, scale: EngineBenchScale = FULL_SCALE): EngineBenchData {
  const rnd = mulberry32(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const hex = (n: number) => {
    let s = "";
    for (let i = 0; i < n; i++) s += "0123456789abcdef"[int(16)];
    return s;
  };
  const uuid = () => `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`;

  const users: EngineUser[] = new Array(scale.users);
  for (let i = 0; i < scale.users; i++)
    users[i] = {
      id: uuid(),
      seq: i + 1,
      createdAt: START + int(365) * DAY + int(DAY),
      enabled: rnd() < 0.98,
    };
  const osPick = (): DeviceOs => {
    const r = rnd();
    return r < 0.6 ? "iOS" : r < 0.85 ? "iPadOS" : r < 0.95 ? "macOS" : "Windows";
  };
  const devices: EngineDevice[] = new Array(scale.devices);
  for (let i = 0; i < scale.devices; i++)
    devices[i] = {
      id: uuid(),
      seq: i + 1,
      createdAt: START + int(365) * DAY + int(DAY),
      serialNumber: `C02${hex(9).toUpperCase()}`,
      operatingSystem: osPick(),
      userId: rnd() < 0.9 ? users[int(scale.users)].id : null,
      itunesStoreBlocked: rnd() < 0.03,
      managed: rnd() < 0.99,
    };

  // groups
  const groupIds: string[] = [];
  const newGroup = () => {
    const id = uuid();
    groupIds.push(id);
    return id;
  };
  const memberships: MembershipEdge[] = [];
  const joined = () => START + int(400) * DAY + int(DAY);
  const userLeaves: string[] = [];
  const deviceLeaves: string[] = [];
  const mids: { id: string; kind: "user" | "device"; leaves: string[] }[] = [];
  const roots: string[] = [];
  let nestedEdges = 0;
  for (let r = 0; r < 20; r++) {
    const root = newGroup();
    roots.push(root);
    for (let m = 0; m < 4; m++) {
      const mid = newGroup();
      const kind = (r * 4 + m) % 2 === 0 ? "user" : "device";
      const leaves: string[] = [];
      mids.push({ id: mid, kind, leaves });
      memberships.push({ groupId: root, memberId: mid, memberType: "group", joinedAt: joined() });
      nestedEdges++;
      for (let l = 0; l < 20; l++) {
        const leaf = newGroup();
        (kind === "user" ? userLeaves : deviceLeaves).push(leaf);
        leaves.push(leaf);
        memberships.push({ groupId: mid, memberId: leaf, memberType: "group", joinedAt: joined() });
        nestedEdges++;
      }
    }
  }
  const flatUser: string[] = [];
  const flatDevice: string[] = [];
  for (let f = 0; f < 320; f++) (f % 2 === 0 ? flatUser : flatDevice).push(newGroup());

  const leafSize = new Map<string, number>();
  const add = (g: string, memberId: string, memberType: "user" | "device") => {
    memberships.push({ groupId: g, memberId, memberType, joinedAt: joined() });
    leafSize.set(g, (leafSize.get(g) ?? 0) + 1);
  };
  for (const u of users) {
    add(userLeaves[int(userLeaves.length)], u.id, "user");
    add(flatUser[int(flatUser.length)], u.id, "user");
  }
  for (const d of devices) {
    add(deviceLeaves[int(deviceLeaves.length)], d.id, "device");
    add(flatDevice[int(flatDevice.length)], d.id, "device");
  }
  // approximate transitive sizes (used only to set totals at about half of the demand)
  const size = new Map<string, number>(leafSize);
  for (let r = 0; r < 20; r++) {
    let rootSize = 0;
    for (let m = 0; m < 4; m++) {
      const mid = mids[r * 4 + m];
      let s = 0;
      for (const leaf of mid.leaves) s += size.get(leaf) ?? 0;
      size.set(mid.id, s);
      rootSize += s;
    }
    size.set(roots[r], rootSize);
  }

  // Apple users per token: most associated, some invited, a few not yet registered.
  const tokens = Array.from({ length: scale.tokens }, (_, i) => `token-${i}`);
  const appleUsers: AppleUserRecord[] = [];
  for (const t of tokens)
    for (const u of users) {
      const r = rnd();
      if (r < 0.85)
        appleUsers.push({ tokenId: t, userId: u.id, state: "associated", clientUserId: `cu-${u.id}` });
      else if (r < 0.95)
        appleUsers.push({ tokenId: t, userId: u.id, state: "invited", clientUserId: `cu-${u.id}` });
    }

  // apps and assignments
  const apps: AppInput[] = [];
  let aseq = 0;
  for (let a = 0; a < scale.apps; a++) {
    const assignments: EngineAssignment[] = [];
    let demand = 0;
    const requests: InstallRequest[] = [];
    for (let k = 0; k < scale.assignmentsPerApp; k++) {
      const r = rnd();
      let groupId: string;
      let deviceTarget: boolean;
      if (r < 0.01) {
        const mid = mids[int(mids.length)];
        groupId = mid.id;
        deviceTarget = mid.kind === "device";
      } else if (r < 0.68) {
        groupId = deviceLeaves[int(deviceLeaves.length)];
        deviceTarget = true;
      } else if (r < 0.75) {
        groupId = flatDevice[int(flatDevice.length)];
        deviceTarget = true;
      } else if (r < 0.95) {
        groupId = userLeaves[int(userLeaves.length)];
        deviceTarget = false;
      } else {
        groupId = flatUser[int(flatUser.length)];
        deviceTarget = false;
      }
      const x = rnd();
      const exclusion = k > 0 && x < 0.03;
      const intent = x < 0.85 ? "required" : x < 0.97 ? "available" : "uninstall";
      aseq++;
      assignments.push({
        id: `asg-${aseq}`,
        seq: aseq,
        createdAt: START + 400 * DAY + aseq * 1000,
        target: { kind: exclusion ? "exclusionGroup" : "group", groupId },
        intent: deviceTarget && intent === "available" ? "required" : intent,
        settings: { useDeviceLicensing: deviceTarget, uninstallOnDeviceRemoval: rnd() < 0.2 },
      });
      if (!exclusion && intent === "required") demand += size.get(groupId) ?? 0;
    }
    // install requests for Available assignments: a few devices per app
    for (let q = 0; q < 40; q++) {
      const d = devices[int(devices.length)];
      requests.push({ deviceId: d.id, requestedAt: START + 410 * DAY + int(30 * DAY) });
    }
    apps.push({
      app: {
        id: `app-${a}`,
        tokenId: tokens[a % tokens.length],
        totalCount: Math.max(1, Math.floor(demand / 2)),
        deviceAssignable: true,
        revocable: true,
        productType: "App",
        supportedPlatforms: a % 10 === 0 ? ["iOS"] : ["iOS", "macOS"],
        token: "usable",
        unitPrice: 1.99,
      },
      assignments,
      holdings: [],
      installRequests: requests,
      installs: [],
    });
  }
  return {
    directory: { users, devices, memberships, appleUsers },
    apps,
    groups: groupIds.length,
    nestedEdges,
  };
}
