// The public API of sandlock, and nothing else.

export { Sandbox, type SandboxState, type SpawnOptions, type DryRunResult } from "./sandbox.js";
export { listWorkdirBranches, showWorkdirBranch, applyWorkdirBranch, dropWorkdirBranch, type BranchInfo, type BranchDetails, type BranchStoreOptions } from "./cow/branches.js";
export type { Change as WorkdirChange } from "./cow/changes.js";
export { RunResult, RunResultBase, type RunStatus, type RunEnding, type SucceededRunResult, type LimitExceeded, type RunResultFields, type RunResultConstructor, type Refusal, type WorkdirOutcome } from "./result.js";
export type { NetworkReport, ProxyRefusal } from "./proxy/report.js";
export type { ExitedEnding, SignaledEnding, KilledEnding, TimeoutEnding, SucceededEnding } from "./result.js";
export type { PortMapping } from "./supervise/handlers/port-remap.js";
export { Stage, Pipeline, type PipelineOptions, type RunningPipeline } from "./pipeline.js";
export { Policy, PolicyBuilder } from "./policy/index.js";
export { loadProfile, type LoadedProfile, type LoadProfileOptions } from "./profile/load.js";
export { wrap, type Wrapped, type WrapOptions } from "./wrap/wrap.js";
export type { PolicyInput, PolicyJSON, NetRule, NetTarget, DomainTarget, BindSpec, Protection, Protocol, CowAction, ProcView } from "./policy/index.js";
export type { PolicyFields, ProtectionInput, ProtectionJSON, ProtectionSettings, UserIds, BindRange, BindInput, ByteSize } from "./policy/index.js";
export type { AnyTarget, HostTarget, IpTarget, CidrTarget } from "./policy/index.js";
export type { PolicyFn, PolicyEvent, PolicyEventCategory, PolicyVerdict, PolicyContext } from "./policy/index.js";
export { PROTECTIONS, PROTECTION_ABI, PROTECTION_LABEL, PRESET_NAMES, PRESET_SUMMARY, type PresetName } from "./policy/index.js";
export type { Enforcement, EnforcementStatus } from "./plan/features.js";
export { DEFAULT_MAX_BUFFER, type StdinOption, type InputOption, type OutputOption, type StdioOptions } from "./confine/stdio.js";
export {
  SandlockError,
  PolicyError,
  PolicyUnsupportedError,
  ConfinementError,
  SupervisorError,
  BranchError,
  SandboxError,
  CheckpointError,
  CommandFailedError,
  OutputLimitError,
  PipeHeldError,
  type ErrorCode,
} from "./errors.js";
export { Checkpoint, type CheckpointOptions, type SavedCheckpoint } from "./checkpoint/checkpoint.js";
export type { RestoreOptions } from "./checkpoint/restore.js";
export { pcAndSp, FORMAT_VERSION as CHECKPOINT_FORMAT_VERSION } from "./checkpoint/image.js";
export type { PcAndSp, ProcessImage, ThreadImage, RegisterSet, MapEntry, MemorySegment, FdEntry } from "./checkpoint/image.js";
export type { ForkFunctions, ForkFunction, ForkOptions } from "./fork/fns.js";
export { FORK_OUTPUT_BUDGET } from "./fork/fns.js";
