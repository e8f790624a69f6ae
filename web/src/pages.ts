// Every page of the console: its path, navigation label and icon, and its lazily loaded module
// (each page is its own chunk, so the first page loads only its own code). Add a page here.
import type { FluentIcon } from "@fluentui/react-icons";
import {
  AppsRegular,
  BoardRegular,
  DataBarVerticalRegular,
  HistoryRegular,
  KeyRegular,
  PeopleRegular,
  PeopleTeamRegular,
  PhoneLaptopRegular,
  SettingsRegular,
} from "@fluentui/react-icons";
import { type ComponentType, type LazyExoticComponent, lazy } from "react";

export interface PageDef {
  /** Base path; the page gets every path below it (wouter `nest`), e.g. /apps/123. */
  path: string;
  label: string;
  icon: FluentIcon;
  /** Shown in the navigation only to administrators holding this permission. */
  permission?: string;
  component: LazyExoticComponent<ComponentType>;
}

export const pages: PageDef[] = [
  {
    path: "/",
    label: "Dashboard",
    icon: BoardRegular,
    component: lazy(() => import("./pages/dashboard/Dashboard.tsx")),
  },
  {
    path: "/tokens",
    label: "VPP tokens",
    icon: KeyRegular,
    permission: "tokens.read",
    component: lazy(() => import("./pages/tokens/Tokens.tsx")),
  },
  {
    path: "/apps",
    label: "Apps and books",
    icon: AppsRegular,
    component: lazy(() => import("./pages/apps/Apps.tsx")),
  },
  {
    path: "/users",
    label: "Users",
    icon: PeopleRegular,
    permission: "directory.read",
    component: lazy(() => import("./pages/users/Users.tsx")),
  },
  {
    path: "/devices",
    label: "Devices",
    icon: PhoneLaptopRegular,
    permission: "directory.read",
    component: lazy(() => import("./pages/devices/Devices.tsx")),
  },
  {
    path: "/groups",
    label: "Groups",
    icon: PeopleTeamRegular,
    permission: "directory.read",
    component: lazy(() => import("./pages/groups/Groups.tsx")),
  },
  {
    path: "/licenses",
    label: "Licenses and reports",
    icon: DataBarVerticalRegular,
    component: lazy(() => import("./pages/licenses/Licenses.tsx")),
  },
  {
    path: "/audit",
    label: "Audit log",
    icon: HistoryRegular,
    permission: "audit.read",
    component: lazy(() => import("./pages/audit/Audit.tsx")),
  },
  {
    path: "/settings",
    label: "Settings",
    icon: SettingsRegular,
    component: lazy(() => import("./pages/settings/Settings.tsx")),
  },
];
