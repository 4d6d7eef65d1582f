// The Linux console's own ioctls (linux/kd.h, linux/vt.h) on a virtual terminal a sandbox
// inherits: whoever has a VT as controlling terminal may change it without privilege
// (vt_ioctl's "perm" is the caller's controlling terminal), and what they change outlives
// the run, some of it for every console of the machine. Found on 2026-12-03, after the
// terminal's output suspension (seccomp.ts IOCTL_TCXONC): a command run from a text
// console could turn its keyboard off (KDSKBMODE K_OFF: no key reaches the user's shell
// again), put it in graphics mode (KDSETMODE: the text no longer shows), replace the font,
// the colour map, the screen and Unicode maps or the accent table (shared by all consoles),
// switch to another console, or take over console switching (VT_SETMODE). A pseudo-terminal
// answers none of them (ENOTTY), so refusing them changes nothing for ordinary programs.
//
// Refused with EPERM: every request numbered in the console's two ranges but the ones that
// only read (below), so a setter not listed here is refused too. The requests are the old
// style, without size or direction bits: a device's new-style request that shares the low
// byte (V4L2's 'V' requests) has other bits set and lies outside both ranges.

import { type BpfAssembler, Ret } from "./bpf/assembler.js";

const EPERM = 1;

/** 'K' (0x4Bxx) and 'V' (0x56xx), each [lo, end). */
export const CONSOLE_RANGES = { kd: [0x4b00, 0x4c00], vt: [0x5600, 0x5700] } as const;

/** The console requests that only read, allowed: KDGETLED, KDGKBTYPE, KDGETMODE,
 * GIO_SCRNMAP, KDGKBMODE, KDGKBENT, KDGKBSENT, KDGKBDIACR, KDGETKEYCODE, GIO_FONT,
 * KDGKBMETA, KDGKBLED, GIO_UNIMAP, GIO_UNISCRNMAP, GIO_FONTX, GIO_CMAP, KDGKBDIACRUC;
 * VT_OPENQRY, VT_GETMODE, VT_GETSTATE, VT_WAITACTIVE, VT_GETHIFONTMASK, VT_WAITEVENT. */
export const CONSOLE_READS: readonly number[] = [
  0x4b31, 0x4b33, 0x4b3b, 0x4b40, 0x4b44, 0x4b46, 0x4b48, 0x4b4a, 0x4b4c, 0x4b60, 0x4b62, 0x4b64, 0x4b66, 0x4b69, 0x4b6b, 0x4b70, 0x4bfa,
  0x5600, 0x5601, 0x5603, 0x5607, 0x560d, 0x560e,
];

/** With the request (the low 32 bits of argument 1) in A: EPERM for a console request
 * that changes something, ALLOW for one that reads; anything else goes on after. */
export function consoleIoctls(b: BpfAssembler, p: string): void {
  const { kd, vt } = CONSOLE_RANGES;
  b.jge(kd[0], 0, `${p}con.end`).jge(kd[1], `${p}con.vt`, `${p}con.in`);
  b.label(`${p}con.vt`).jge(vt[0], 0, `${p}con.end`).jge(vt[1], `${p}con.end`, `${p}con.in`);
  b.label(`${p}con.in`);
  for (const q of CONSOLE_READS) b.jeq(q, `${p}con.read`, 0);
  b.ret(Ret.errno(EPERM));
  b.label(`${p}con.read`).ret(Ret.ALLOW);
  b.label(`${p}con.end`);
}
