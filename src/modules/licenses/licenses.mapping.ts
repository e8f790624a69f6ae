// How a catalog app row and its token's state look to the engine (one mapping for reconcile,
// previews and the MDM bridge, so they plan on identical inputs).
import type { EngineApp, TokenUsability } from "../../engine/index.ts";
import type { LedgerAppRow } from "./licenses.repository.ts";

export function usability(state: string | null): TokenUsability {
  if (state === "valid" || state === "duplicateLocationId") return "usable";
  return state === "expired" || state === "assignedToExternalMDM" ? state : "invalid";
}

export function engineAppOf(app: LedgerAppRow, externallyConsumed: number): EngineApp {
  return {
    id: app.id,
    tokenId: app.token_id ?? "",
    totalCount: app.total_count,
    externallyConsumed,
    deviceAssignable: app.device_assignable,
    revocable: app.revocable,
    productType: app.product_type === "Book" ? "Book" : "App",
    supportedPlatforms: app.supported_platforms ?? [],
    token: usability(app.token_state),
    unitPrice: app.unit_price == null ? null : Number(app.unit_price),
  };
}
