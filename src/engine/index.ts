// The licensing engine's public surface (contract: README.md in this folder).
export { applyAppleUserOps, applyPlan, ledgerRowOf } from "./apply.ts";
export {
  applePlatformOf,
  buildDirectoryIndex,
  type DirectoryIndex,
  type Expansion,
  expandGroup,
} from "./directory.ts";
export {
  affectedHolders,
  capacityOf,
  decisionOrder,
  dedupeAppleUserOps,
  EngineInputError,
  type IncrementalInput,
  type IncrementalPlan,
  planApp,
  planAppIncremental,
  planApps,
  queueCompare,
  queueHeadSize,
} from "./plan.ts";
export {
  applyChange,
  diffPlans,
  type PlanChange,
  type Preview,
  type PreviewHolder,
  type PreviewInput,
  previewChange,
} from "./preview.ts";
export {
  ITUNES_BLOCKED_WARNING,
  KIOSK_USER_LICENSING_WARNING,
  NOT_APPLE_WARNING,
  type PromptMatrixInput,
  type PromptMatrixResult,
  promptMatrix,
} from "./prompt-matrix.ts";
export { type Changed, sliceDirectory, sliceForIncremental } from "./slice.ts";
export * from "./types.ts";
export { planAppUpdate, type UpdateCommand, type UpdatePlan } from "./update.ts";
