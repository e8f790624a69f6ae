// UPD-1: when a sync finds a newer store version, Required holders get an update command on every
// device that has the app installed (unless the deciding assignment sets preventAutoAppUpdate), on
// iOS/iPadOS 11 and later and on macOS; Available ones are reported so administrators are notified and
// the company portal shows `updateAvailable`.
import type { DirectoryIndex } from "./directory.ts";
import type { AppInput, AppPlan, HolderType, LicenseType } from "./types.ts";

export interface UpdateCommand {
  kind: "updateCommand";
  appId: string;
  deviceId: string;
  holderType: HolderType;
  holderId: string;
  licenseType: LicenseType;
  assignmentId: string | null;
}

export interface UpdatePlan {
  updateCommands: UpdateCommand[];
  /** Devices with an Available install whose install state now reads updateAvailable. */
  updateAvailable: { deviceId: string; holderType: HolderType; holderId: string }[];
  /** An Available assignment exists: tell administrators a new version is out. */
  notifyAdministrators: boolean;
}

function majorVersion(v: string | null): number | null {
  if (!v) return null;
  const m = /^(\d+)/.exec(v);
  return m ? Number(m[1]) : null;
}

/** iOS/iPadOS before 11 cannot take VPP app updates pushed this way; unknown versions are allowed. */
function canUpdate(ix: DirectoryIndex, d: number): boolean {
  const major = majorVersion(ix.deviceOsVersion[d]);
  return ix.devicePlatform[d] === 2 || major === null || major >= 11;
}

/** Update commands for `plan` (the app's current plan) given the app's install states. */
export function planAppUpdate(ix: DirectoryIndex, input: AppInput, plan: AppPlan): UpdatePlan {
  const installed = new Set<string>();
  for (const i of input.installs ?? []) if (i.state === "installed") installed.add(i.deviceId);
  const settings = new Map(input.assignments.map((a) => [a.id, a.settings]));
  const updateCommands: UpdateCommand[] = [];
  const updateAvailable: UpdatePlan["updateAvailable"] = [];
  for (const h of plan.holdings) {
    if (h.state !== "assigned" || (h.intent !== "required" && h.intent !== "available")) continue;
    const devices =
      h.holderType === "device"
        ? [h.holderId]
        : (h.devices ?? []).filter((t) => t.action === "install").map((t) => t.deviceId);
    for (const deviceId of devices) {
      if (!installed.has(deviceId)) continue;
      const d = ix.deviceById.get(deviceId);
      if (d === undefined || !ix.deviceManaged[d]) continue;
      if (h.intent === "available") {
        updateAvailable.push({ deviceId, holderType: h.holderType, holderId: h.holderId });
        continue;
      }
      if (settings.get(h.assignmentId ?? "")?.preventAutoAppUpdate) continue;
      if (!canUpdate(ix, d)) continue;
      updateCommands.push({
        kind: "updateCommand",
        appId: input.app.id,
        deviceId,
        holderType: h.holderType,
        holderId: h.holderId,
        licenseType: h.licenseType,
        assignmentId: h.assignmentId,
      });
    }
  }
  return {
    updateCommands,
    updateAvailable,
    notifyAdministrators: input.assignments.some(
      (a) => a.target.kind !== "exclusionGroup" && a.intent === "available",
    ),
  };
}
