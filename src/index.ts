// The public API of sandlock, and nothing else.

export { Sandbox, type SandboxState, type SpawnOptions } from "./sandbox.js";
export { RunResult, type RunStatus, type Refusal } from "./result.js";
export { Stage, Pipeline, type PipelineOptions, type RunningPipeline } from "./pipeline.js";
export { Policy, PolicyBuilder } from "./policy/index.js";
export type { PolicyInput, PolicyJSON, NetRule, NetTarget, BindSpec, Protection, Protocol, CowAction } from "./policy/index.js";
export { PROTECTIONS, PROTECTION_ABI, PROTECTION_LABEL, PRESET_NAMES, PRESET_SUMMARY, type PresetName } from "./policy/index.js";
export type { Enforcement, EnforcementStatus } from "./plan/features.js";
export type { StdinOption, OutputOption } from "./confine/stdio.js";
export {
  SandlockError,
  PolicyError,
  PolicyUnsupportedError,
  ConfinementError,
  SupervisorError,
  BranchError,
  SandboxError,
  CheckpointError,
  type ErrorCode,
} from "./errors.js";
export { Checkpoint, type CheckpointOptions } from "./checkpoint/checkpoint.js";
export { pcAndSp, FORMAT_VERSION as CHECKPOINT_FORMAT_VERSION } from "./checkpoint/image.js";
export type { ProcessImage, ThreadImage, RegisterSet, MapEntry, MemorySegment, FdEntry } from "./checkpoint/image.js";
export type { ForkFunctions, ForkFunction } from "./fork/fns.js";
