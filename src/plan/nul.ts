// Strings travel to the launcher NUL-terminated: one with a NUL inside would be cut there,
// so every string of a plan is refused with this one message before anything uses it.

/** Throws when `s` holds a NUL byte. */
export function refuseNul(s: string): void {
  if (s.includes("\0")) throw new Error(`plan: string contains NUL: ${JSON.stringify(s)}`);
}
