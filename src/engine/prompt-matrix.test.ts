// EUX-1: seed 000's prompt matrix, row by row.
import { describe, expect, it } from "vitest";
import {
  ITUNES_BLOCKED_WARNING,
  KIOSK_USER_LICENSING_WARNING,
  NOT_APPLE_WARNING,
  promptMatrix,
} from "./prompt-matrix.ts";

const base = { platform: "iOS" as const, kiosk: false, supervised: false };

describe("promptMatrix (seed 000 'Slutanvändarprompt för VPP')", () => {
  it.each([
    // row, input, [VPP invitation, install prompt, Apple ID prompt]
    [1, { ownership: "personal", useDeviceLicensing: false }, [true, true, true]],
    [2, { ownership: "company", useDeviceLicensing: false }, [true, true, true]],
    [3, { ownership: "company", supervised: true, useDeviceLicensing: false }, [true, false, true]],
    [4, { ownership: "personal", useDeviceLicensing: true }, [false, true, false]],
    [5, { ownership: "company", useDeviceLicensing: true }, [false, true, false]],
    [6, { ownership: "company", supervised: true, useDeviceLicensing: true }, [false, false, false]],
    [
      7,
      { ownership: "company", supervised: true, kiosk: true, useDeviceLicensing: true },
      [false, false, false],
    ],
  ] as const)("row %i", (row, input, [vppInvitation, installPrompt, appleIdPrompt]) => {
    expect(promptMatrix({ ...base, ...input })).toEqual({
      scenario: row,
      vppInvitation,
      installPrompt,
      appleIdPrompt,
    });
  });

  it("row 8: kiosk with user licensing is not determined and carries the warning", () => {
    expect(
      promptMatrix({
        ...base,
        ownership: "company",
        supervised: true,
        kiosk: true,
        useDeviceLicensing: false,
      }),
    ).toEqual({
      scenario: 8,
      vppInvitation: null,
      installPrompt: null,
      appleIdPrompt: null,
      warning: KIOSK_USER_LICENSING_WARNING,
    });
  });

  it("iPadOS and macOS follow the table; unknown ownership is treated as personal; Windows is not applicable", () => {
    expect(
      promptMatrix({
        ...base,
        platform: "iPadOS",
        ownership: "company",
        supervised: true,
        useDeviceLicensing: true,
      }).scenario,
    ).toBe(6);
    expect(
      promptMatrix({ ...base, platform: "macOS", ownership: "unknown", useDeviceLicensing: false }).scenario,
    ).toBe(1);
    expect(
      promptMatrix({ ...base, platform: "Windows", ownership: "company", useDeviceLicensing: true }),
    ).toEqual({
      scenario: null,
      vppInvitation: null,
      installPrompt: null,
      appleIdPrompt: null,
      warning: NOT_APPLE_WARNING,
    });
  });

  it("warns that user licensing cannot work when the iTunes Store is blocked", () => {
    const r = promptMatrix({
      ...base,
      ownership: "company",
      useDeviceLicensing: false,
      itunesStoreBlocked: true,
    });
    expect(r).toMatchObject({ scenario: 2, warning: ITUNES_BLOCKED_WARNING });
    expect(
      promptMatrix({ ...base, ownership: "company", useDeviceLicensing: true, itunesStoreBlocked: true })
        .warning,
    ).toBeUndefined();
  });
});
