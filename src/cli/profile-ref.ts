// -p NAME and --profile-file PATH, shared by `sandlock run` and `sandlock restore`.

import type { ProfileRef } from "../profile/resolve.js";

/** The value of -p (`profile`) or --profile-file as a ProfileRef, or, when it is empty,
 * what to give instead (each command words its own error around it). */
export function profileRefOf(flag: "profile" | "profile-file", value: string): ProfileRef | { empty: string } {
  if (value === "") return { empty: flag === "profile" ? "give a preset or profile name" : "give the path of a TOML file" };
  return flag === "profile" ? { kind: "name", name: value } : { kind: "file", path: value };
}
