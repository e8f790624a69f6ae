// What `npm run demo` seeds: one organization with two Apple locations (one token close to expiry),
// a realistic catalog of apps and books, licenses another MDM already assigned, and a directory of
// users, devices and nested groups. Everything is generated from fixed lists and a fixed seed, so
// every run produces the same data (re-runs find it already present).
import type { AssetInput, LocationInput } from "../emulators/apple/control-client.ts";

export const DEMO_SEED = 20261121;
export const DEMO_ORG = "Contoso Ltd";
export const DEMO_DOMAIN = "contoso.example";
export const DEMO_ADMIN_EMAIL = "demo@allot.local";
export const DEMO_CLIENT_ID = "allot-demo-scripts";
/** The location whose token expires soon (TOK-4 warnings show up at once). */
export const EXPIRING_IN_DAYS = 10;

interface DemoApp extends AssetInput {
  adamId: string;
  name: string;
}

// Apple ids, bundle ids and versions as an App Store lookup would show them (emulated).
const apps = {
  outlook: {
    adamId: "951937596",
    name: "Microsoft Outlook",
    bundleId: "com.microsoft.Office.Outlook",
    version: "4.2447.0",
    artistName: "Microsoft Corporation",
    genre: "Productivity",
  },
  teams: {
    adamId: "1113153706",
    name: "Microsoft Teams",
    bundleId: "com.microsoft.skype.teams",
    version: "6.22.1",
    artistName: "Microsoft Corporation",
    genre: "Business",
  },
  word: {
    adamId: "586447913",
    name: "Microsoft Word",
    bundleId: "com.microsoft.Office.Word",
    version: "2.88",
    artistName: "Microsoft Corporation",
    genre: "Productivity",
  },
  excel: {
    adamId: "586683407",
    name: "Microsoft Excel",
    bundleId: "com.microsoft.Office.Excel",
    version: "2.88",
    artistName: "Microsoft Corporation",
    genre: "Productivity",
  },
  onedrive: {
    adamId: "477537958",
    name: "Microsoft OneDrive",
    bundleId: "com.microsoft.skydrive",
    version: "15.17",
    artistName: "Microsoft Corporation",
    genre: "Productivity",
  },
  slack: {
    adamId: "618783545",
    name: "Slack",
    bundleId: "com.tinyspeck.chatlyio",
    version: "24.10.10",
    artistName: "Slack Technologies, Inc.",
    genre: "Business",
  },
  zoom: {
    adamId: "546505307",
    name: "Zoom Workplace",
    bundleId: "us.zoom.videomeetings",
    version: "6.2.5",
    artistName: "Zoom Video Communications, Inc.",
    genre: "Business",
  },
  keynote: {
    adamId: "361285480",
    name: "Keynote",
    bundleId: "com.apple.Keynote",
    version: "14.2",
    artistName: "Apple",
    genre: "Productivity",
  },
  pages: {
    adamId: "361309726",
    name: "Pages",
    bundleId: "com.apple.Pages",
    version: "14.2",
    artistName: "Apple",
    genre: "Productivity",
  },
  numbers: {
    adamId: "361304891",
    name: "Numbers",
    bundleId: "com.apple.Numbers",
    version: "14.2",
    artistName: "Apple",
    genre: "Productivity",
  },
  goodnotes: {
    adamId: "1444383602",
    name: "GoodNotes 5",
    bundleId: "com.goodnotesapp.x",
    version: "5.9.91",
    artistName: "Time Base Technology Limited",
    genre: "Productivity",
    price: 7.99,
  },
  notability: {
    adamId: "360593530",
    name: "Notability",
    bundleId: "com.gingerlabs.Notability",
    version: "14.5",
    artistName: "Ginger Labs",
    genre: "Productivity",
    price: 5.99,
  },
  jamf: {
    adamId: "718509958",
    name: "Jamf Self Service",
    bundleId: "com.jamfsoftware.selfservice",
    version: "11.3.0",
    artistName: "Jamf",
    genre: "Business",
  },
  acrobat: {
    adamId: "469337564",
    name: "Adobe Acrobat Reader: Edit PDF",
    bundleId: "com.adobe.Adobe-Reader",
    version: "24.10.0",
    artistName: "Adobe Inc.",
    genre: "Productivity",
  },
  salesforce: {
    adamId: "404249815",
    name: "Salesforce",
    bundleId: "com.salesforce.chatter",
    version: "250.050",
    artistName: "Salesforce.com, inc.",
    genre: "Business",
  },
  box: {
    adamId: "290853822",
    name: "Box: The Content Cloud",
    bundleId: "net.box.BoxNet",
    version: "5.31.0",
    artistName: "Box, Inc.",
    genre: "Business",
  },
  finalcut: {
    adamId: "424389933",
    name: "Final Cut Pro",
    bundleId: "com.apple.FinalCut",
    version: "11.0",
    artistName: "Apple",
    genre: "Video",
    price: 299.99,
    supportedPlatforms: ["macOS"],
    minimumOSVersion: "14.4",
  },
} satisfies Record<string, DemoApp>;

const books = {
  swift: {
    adamId: "881256329",
    name: "The Swift Programming Language (Swift 6)",
    artistName: "Apple Inc.",
    genre: "Computers",
  },
  deployment: {
    adamId: "1569253829",
    name: "Apple Platform Deployment",
    artistName: "Apple Inc.",
    genre: "Computers",
  },
} satisfies Record<string, DemoApp>;

const app = (a: DemoApp, totalCount: number, extra: Partial<AssetInput> = {}): AssetInput => ({
  productType: "App",
  pricingParam: "STDQ",
  supportedPlatforms: ["iOS"],
  deviceAssignable: true,
  revocable: true,
  minimumOSVersion: "16.0",
  releaseDate: "2024-09-16",
  ...a,
  totalCount,
  ...extra,
});
const book = (b: DemoApp, totalCount: number): AssetInput => ({
  productType: "Book",
  pricingParam: "STDQ",
  deviceAssignable: false,
  revocable: false,
  supportedPlatforms: ["iOS", "macOS"],
  releaseDate: "2024-06-10",
  ...b,
  totalCount,
});

export interface DemoLocation {
  key: "hq" | "london";
  /** The token's display name in Allot. */
  displayName: string;
  appleId: string;
  location: Omit<LocationInput, "expDate">;
  expiresInDays?: number;
  /** Licenses another MDM already assigned at Apple (shown as used and untracked). */
  assigned: {
    adamId: string;
    serials: "companyMacs" | "salesPhones" | "sharedIpads" | "allCompanyDevices";
  }[];
}

export const DEMO_LOCATIONS: DemoLocation[] = [
  {
    key: "hq",
    displayName: "Contoso HQ (Seattle)",
    appleId: "vpp-hq@contoso.example",
    location: {
      orgName: DEMO_ORG,
      locationName: "Seattle HQ",
      countryISO2ACode: "US",
      accountType: "business",
      appleId: "vpp-hq@contoso.example",
      assets: [
        app(apps.outlook, 500),
        app(apps.teams, 500),
        app(apps.word, 250),
        app(apps.excel, 250),
        app(apps.slack, 300),
        app(apps.zoom, 200),
        app(apps.keynote, 150),
        app(apps.pages, 150),
        app(apps.numbers, 100),
        app(apps.goodnotes, 75),
        app(apps.notability, 30, { deviceAssignable: false }),
        app(apps.jamf, 300),
        app(apps.acrobat, 120),
        app(apps.salesforce, 60, { deviceAssignable: false }),
        app(apps.finalcut, 5),
        book(books.swift, 50),
        book(books.deployment, 25),
      ],
    },
    assigned: [
      { adamId: apps.jamf.adamId, serials: "allCompanyDevices" },
      { adamId: apps.keynote.adamId, serials: "sharedIpads" },
      { adamId: apps.outlook.adamId, serials: "salesPhones" },
    ],
  },
  {
    key: "london",
    displayName: "Contoso London office",
    appleId: "vpp-london@contoso.example",
    location: {
      orgName: DEMO_ORG,
      locationName: "London office",
      countryISO2ACode: "GB",
      accountType: "business",
      appleId: "vpp-london@contoso.example",
      assets: [
        app(apps.outlook, 100),
        app(apps.teams, 100),
        app(apps.slack, 80),
        app(apps.onedrive, 120),
        app(apps.box, 40),
      ],
    },
    expiresInDays: EXPIRING_IN_DAYS,
    assigned: [],
  },
];

/** Catalog entries the first sync produces: one per (token, asset). */
export const DEMO_CATALOG = {
  apps: DEMO_LOCATIONS.flatMap((l) => (l.location.assets ?? []).filter((a) => a.productType !== "Book")),
  books: DEMO_LOCATIONS.flatMap((l) => (l.location.assets ?? []).filter((a) => a.productType === "Book")),
};

// ---------------------------------------------------------------- directory

/** Small deterministic PRNG (mulberry32). */
function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const givenNames = [
  "Ada",
  "Alan",
  "Amara",
  "Ananya",
  "Ben",
  "Camille",
  "Carlos",
  "Chen",
  "Chloe",
  "Daniel",
  "Dmitri",
  "Elena",
  "Emma",
  "Farah",
  "Felix",
  "Grace",
  "Hannah",
  "Hiro",
  "Isabel",
  "Ivan",
  "Jack",
  "Jamal",
  "Jonas",
  "Julia",
  "Kai",
  "Kenji",
  "Lara",
  "Leila",
  "Liam",
  "Lucas",
  "Maya",
  "Mei",
  "Mohammed",
  "Nadia",
  "Noah",
  "Olivia",
  "Omar",
  "Priya",
  "Rafael",
  "Rosa",
  "Sam",
  "Sara",
  "Sofia",
  "Tariq",
  "Tom",
  "Valentina",
  "Wei",
  "Yara",
  "Yusuf",
  "Zoe",
];
const surnames = [
  "Adams",
  "Ahmed",
  "Andersson",
  "Bauer",
  "Brown",
  "Chen",
  "Costa",
  "Davies",
  "Dubois",
  "Evans",
  "Fischer",
  "Garcia",
  "Gupta",
  "Hansen",
  "Hughes",
  "Ito",
  "Jensen",
  "Kim",
  "Kowalski",
  "Lee",
  "Lopez",
  "Martin",
  "Meyer",
  "Moreau",
  "Murphy",
  "Nakamura",
  "Nguyen",
  "Novak",
  "O'Brien",
  "Okafor",
  "Patel",
  "Petrov",
  "Rossi",
  "Santos",
  "Schmidt",
  "Silva",
  "Singh",
  "Smith",
  "Suzuki",
  "Taylor",
  "Thomas",
  "Tanaka",
  "Walker",
  "Wang",
  "Weber",
  "Williams",
  "Wilson",
  "Yamamoto",
  "Young",
  "Zhang",
];

interface Team {
  group: string;
  displayName: string;
  department: string;
  size: number;
  titles: string[];
  /** Nested under this team's group instead of directly under All staff. */
  parent?: string;
  device: "mac" | "iphone" | "none";
}

const teams: Team[] = [
  {
    group: "engineering",
    displayName: "Engineering",
    department: "Engineering",
    size: 30,
    titles: ["Software Engineer", "Senior Software Engineer", "Engineering Manager", "QA Engineer"],
    device: "mac",
  },
  {
    group: "eng-mobile",
    displayName: "Mobile team",
    department: "Engineering",
    size: 30,
    titles: ["iOS Engineer", "Android Engineer", "Mobile Architect"],
    parent: "engineering",
    device: "mac",
  },
  {
    group: "eng-platform",
    displayName: "Platform team",
    department: "Engineering",
    size: 30,
    titles: ["Site Reliability Engineer", "Platform Engineer", "Security Engineer"],
    parent: "engineering",
    device: "mac",
  },
  {
    group: "sales",
    displayName: "Sales",
    department: "Sales",
    size: 60,
    titles: ["Account Executive", "Sales Development Representative", "Regional Sales Manager"],
    device: "iphone",
  },
  {
    group: "marketing",
    displayName: "Marketing",
    department: "Marketing",
    size: 30,
    titles: ["Product Marketing Manager", "Content Strategist", "Brand Designer"],
    device: "mac",
  },
  {
    group: "support",
    displayName: "Customer Support",
    department: "Customer Support",
    size: 45,
    titles: ["Support Specialist", "Support Team Lead"],
    device: "none",
  },
  {
    group: "finance",
    displayName: "Finance",
    department: "Finance",
    size: 20,
    titles: ["Accountant", "Financial Analyst", "Controller"],
    device: "none",
  },
  {
    group: "operations",
    displayName: "Operations",
    department: "Operations",
    size: 25,
    titles: ["Operations Coordinator", "IT Administrator", "Facilities Manager"],
    device: "iphone",
  },
  {
    group: "design",
    displayName: "Design",
    department: "Design",
    size: 20,
    titles: ["Product Designer", "UX Researcher", "Design Lead"],
    device: "mac",
  },
  {
    group: "people",
    displayName: "People",
    department: "People",
    size: 10,
    titles: ["HR Business Partner", "Recruiter"],
    device: "none",
  },
];

export interface DemoUser {
  userPrincipalName: string;
  displayName: string;
  givenName: string;
  surname: string;
  mail: string;
  jobTitle: string;
  department: string;
  usageLocation: "US" | "GB";
  team: string;
}

export interface DemoDevice {
  serialNumber: string;
  deviceName: string;
  operatingSystem: "iOS" | "iPadOS" | "macOS";
  osVersion: string;
  isSupervised: boolean;
  kioskMode: boolean;
  userPrincipalName?: string;
  kind: "companyMac" | "salesPhone" | "phone" | "sharedIpad" | "kioskIpad";
}

export interface DemoGroup {
  mailNickname: string;
  displayName: string;
  description: string;
  memberKind: "user" | "device" | "mixed";
}

export interface DemoMembership {
  groupMailNickname: string;
  memberType: "user" | "device" | "group";
  member: string;
}

export interface DemoDirectory {
  users: DemoUser[];
  devices: DemoDevice[];
  groups: DemoGroup[];
  members: DemoMembership[];
}

const ascii = (s: string) => s.toLowerCase().replace(/[^a-z]/g, "");

/** The demo directory: about 300 users, 200 devices, nested groups; the same on every run. */
export function demoDirectory(): DemoDirectory {
  const rand = prng(DEMO_SEED);
  const pick = <T>(list: readonly T[]) => list[Math.floor(rand() * list.length)];
  const users: DemoUser[] = [];
  const taken = new Set<string>();
  for (const team of teams)
    for (let i = 0; i < team.size; i++) {
      const givenName = pick(givenNames);
      const surname = pick(surnames);
      let local = `${ascii(givenName)}.${ascii(surname)}`;
      for (let n = 2; taken.has(local); n++) local = `${ascii(givenName)}.${ascii(surname)}${n}`;
      taken.add(local);
      const upn = `${local}@${DEMO_DOMAIN}`;
      users.push({
        userPrincipalName: upn,
        displayName: `${givenName} ${surname}`,
        givenName,
        surname,
        mail: upn,
        jobTitle: pick(team.titles),
        department: team.department,
        usageLocation: rand() < 0.2 ? "GB" : "US",
        team: team.group,
      });
    }

  const devices: DemoDevice[] = [];
  let serial = 0;
  const nextSerial = () => `DMP${String(++serial).padStart(8, "0")}`;
  for (const u of users) {
    const team = teams.find((t) => t.group === u.team) as Team;
    if (team.device === "mac")
      devices.push({
        serialNumber: nextSerial(),
        deviceName: `${u.givenName}'s MacBook Pro`,
        operatingSystem: "macOS",
        osVersion: pick(["14.7.1", "15.1", "15.1.1"]),
        isSupervised: true,
        kioskMode: false,
        userPrincipalName: u.userPrincipalName,
        kind: "companyMac",
      });
    else if (team.device === "iphone")
      devices.push({
        serialNumber: nextSerial(),
        deviceName: `${u.givenName}'s iPhone`,
        operatingSystem: "iOS",
        osVersion: pick(["17.7", "18.1", "18.1.1"]),
        isSupervised: true,
        kioskMode: false,
        userPrincipalName: u.userPrincipalName,
        kind: team.group === "sales" ? "salesPhone" : "phone",
      });
  }
  for (let i = 1; i <= 30; i++)
    devices.push({
      serialNumber: nextSerial(),
      deviceName: `Shared iPad ${String(i).padStart(2, "0")}`,
      operatingSystem: "iPadOS",
      osVersion: "18.1",
      isSupervised: true,
      kioskMode: false,
      kind: "sharedIpad",
    });
  for (let i = 1; i <= 6; i++)
    devices.push({
      serialNumber: nextSerial(),
      deviceName: `Lobby kiosk ${i}`,
      operatingSystem: "iPadOS",
      osVersion: "18.1",
      isSupervised: true,
      kioskMode: true,
      kind: "kioskIpad",
    });

  const groups: DemoGroup[] = [
    {
      mailNickname: "all-staff",
      displayName: "All staff",
      description: "Everyone at Contoso (the department groups are nested in it)",
      memberKind: "user",
    },
    ...teams.map((t) => ({
      mailNickname: t.group,
      displayName: t.displayName,
      description: `${t.department}${t.parent ? ` — ${t.displayName}` : ""}`,
      memberKind: "user" as const,
    })),
    {
      mailNickname: "london-office",
      displayName: "London office",
      description: "People based in the London office",
      memberKind: "user",
    },
    {
      mailNickname: "shared-ipads",
      displayName: "Shared iPads",
      description: "Classroom and meeting-room iPads without a primary user",
      memberKind: "device",
    },
    {
      mailNickname: "kiosk-ipads",
      displayName: "Kiosk iPads",
      description: "Single-app lobby kiosks",
      memberKind: "device",
    },
    {
      mailNickname: "company-macs",
      displayName: "Company Macs",
      description: "Every company-owned Mac",
      memberKind: "device",
    },
    {
      mailNickname: "sales-iphones",
      displayName: "Sales iPhones",
      description: "iPhones of the sales team",
      memberKind: "device",
    },
    {
      mailNickname: "pilot-keynote",
      displayName: "Pilot: presentation tools",
      description: "Design team and the shared iPads try Keynote first",
      memberKind: "mixed",
    },
  ];

  const members: DemoMembership[] = [];
  for (const t of teams)
    members.push({ groupMailNickname: t.parent ?? "all-staff", memberType: "group", member: t.group });
  for (const u of users) {
    members.push({ groupMailNickname: u.team, memberType: "user", member: u.userPrincipalName });
    if (u.usageLocation === "GB")
      members.push({ groupMailNickname: "london-office", memberType: "user", member: u.userPrincipalName });
  }
  for (const d of devices) {
    const group = {
      companyMac: "company-macs",
      salesPhone: "sales-iphones",
      phone: undefined,
      sharedIpad: "shared-ipads",
      kioskIpad: "kiosk-ipads",
    }[d.kind];
    if (group) members.push({ groupMailNickname: group, memberType: "device", member: d.serialNumber });
    if (d.kind === "sharedIpad")
      members.push({ groupMailNickname: "pilot-keynote", memberType: "device", member: d.serialNumber });
  }
  members.push({ groupMailNickname: "pilot-keynote", memberType: "group", member: "design" });
  return { users, devices, groups, members };
}

/** Serial numbers of the devices another MDM already assigned licenses to, per seeding rule. */
export function assignedSerials(
  dir: DemoDirectory,
  rule: DemoLocation["assigned"][number]["serials"],
): string[] {
  const of = (...kinds: DemoDevice["kind"][]) =>
    dir.devices.filter((d) => kinds.includes(d.kind)).map((d) => d.serialNumber);
  switch (rule) {
    case "companyMacs":
      return of("companyMac");
    case "salesPhones":
      return of("salesPhone");
    case "sharedIpads":
      return of("sharedIpad");
    case "allCompanyDevices":
      return of("companyMac", "salesPhone", "phone", "sharedIpad", "kioskIpad");
  }
}
