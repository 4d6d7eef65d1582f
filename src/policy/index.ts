// The public face of src/policy: the Policy class and builder, the rule and size parsers,
// the protection names, and the types later stages read.

export { Policy } from "./policy.js";
export { PRESET_NAMES, PRESET_SUMMARY, type PresetName } from "./presets.js";
export { composeInputs } from "./compose.js";
export { PolicyBuilder } from "./builder.js";
export { parseNetRule } from "./net-rule.js";
export { parseBindSpec, formatBindSpec } from "./bind-spec.js";
export { parseByteSize, formatBytes, MAX_BYTE_SIZE } from "./bytes.js";
export { validatePolicy, POLICY_FIELDS, DEFAULTS } from "./validate.js";
export { policyToJSON } from "./serialize.js";
export { assertSupported, NOT_YET_ENFORCED, type NotYetEnforced, type Gap } from "./support.js";
export { DEFAULT_MAX_PROCESSES } from "./limits.js";
export { COW_ACTIONS } from "./filesystem.js";
export type { ProtectionChoice } from "./protection.js";
export {
  PROTECTIONS,
  PROTECTION_ABI,
  PROTECTION_LABEL,
  type Protection,
  type Protocol,
  type NetTarget,
  type DomainTarget,
  type NetRule,
  type BindSpec,
  type BindInput,
  type ByteSize,
  type CowAction,
  type ProcView,
  type PolicyInput,
  type PolicyJSON,
  type PolicyFields,
  type ProtectionInput,
  type ProtectionJSON,
  type ProtectionSettings,
  type UserIds,
  type BindRange,
  type AnyTarget,
  type HostTarget,
  type IpTarget,
  type CidrTarget,
} from "./types.js";
export type { PolicyFn, PolicyEvent, PolicyEventCategory, PolicyVerdict, PolicyContext } from "./policy-fn.js";
