// EUX-1: what the end user is asked when a VPP app is installed, by seed 000's table
// ("Slutanvändarprompt för VPP"): VPP invitation? install prompt? Apple ID prompt?
import type { DeviceOs } from "./types.ts";

export interface PromptMatrixInput {
  /** Managed device owner type: company (corporate) or personal (BYOD); unknown is treated as personal. */
  ownership: "company" | "personal" | "unknown";
  supervised: boolean;
  kiosk: boolean;
  useDeviceLicensing: boolean;
  platform: DeviceOs;
  /** When known: user licensing cannot work on a device whose policy blocks the iTunes Store (ENG-4). */
  itunesStoreBlocked?: boolean;
}

export interface PromptMatrixResult {
  /** Row number of seed 000's table (1–8); null when the table does not apply (not an Apple device). */
  scenario: number | null;
  /** Invitation to join the organization's VPP program. null: not determined (kiosk + user licensing). */
  vppInvitation: boolean | null;
  installPrompt: boolean | null;
  appleIdPrompt: boolean | null;
  warning?: string;
}

export const KIOSK_USER_LICENSING_WARNING =
  "User licensing is not recommended for devices in kiosk mode: assign VPP apps to kiosk devices with device licensing.";
export const ITUNES_BLOCKED_WARNING =
  "The device's policy disables the iTunes Store, so user licensing will not work (the VPP invitation needs it): use device licensing or allow the iTunes Store.";
export const NOT_APPLE_WARNING = "VPP apps are installed only on Apple devices.";

/** Seed 000's prompt matrix as a pure function. Kiosk mode implies a supervised device. */
export function promptMatrix(input: PromptMatrixInput): PromptMatrixResult {
  if (input.platform === "Windows")
    return {
      scenario: null,
      vppInvitation: null,
      installPrompt: null,
      appleIdPrompt: null,
      warning: NOT_APPLE_WARNING,
    };
  const corporate = input.ownership === "company";
  let result: PromptMatrixResult;
  if (input.kiosk) {
    result = input.useDeviceLicensing
      ? { scenario: 7, vppInvitation: false, installPrompt: false, appleIdPrompt: false }
      : {
          scenario: 8,
          vppInvitation: null,
          installPrompt: null,
          appleIdPrompt: null,
          warning: KIOSK_USER_LICENSING_WARNING,
        };
  } else if (!input.useDeviceLicensing) {
    if (!corporate) result = { scenario: 1, vppInvitation: true, installPrompt: true, appleIdPrompt: true };
    else if (!input.supervised)
      result = { scenario: 2, vppInvitation: true, installPrompt: true, appleIdPrompt: true };
    else result = { scenario: 3, vppInvitation: true, installPrompt: false, appleIdPrompt: true };
  } else if (!corporate)
    result = { scenario: 4, vppInvitation: false, installPrompt: true, appleIdPrompt: false };
  else if (!input.supervised)
    result = { scenario: 5, vppInvitation: false, installPrompt: true, appleIdPrompt: false };
  else result = { scenario: 6, vppInvitation: false, installPrompt: false, appleIdPrompt: false };
  if (!input.useDeviceLicensing && input.itunesStoreBlocked && !result.warning)
    result.warning = ITUNES_BLOCKED_WARNING;
  return result;
}
