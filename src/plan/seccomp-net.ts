// The argument filters network supervision adds to the seccomp program: sendto goes to
// the supervisor only with a destination, and socket options that source-route are refused.

import { type BpfAssembler, Ret, SeccompData } from "./bpf/assembler.js";

const EPERM = 1;

/** setsockopt levels and names that make packets travel to an address other than their
 * destination (IPv4 loose/strict source routes, IPv6 routing headers, and the RFC 2292
 * sticky-options blob that can carry one). The supervisor checks the destination only. */
export const SOURCE_ROUTING = {
  SOL_IP: 0,
  IP_OPTIONS: 4,
  SOL_IPV6: 41,
  IPV6_2292RTHDR: 5,
  IPV6_2292PKTOPTIONS: 6,
  IPV6_RTHDR: 57,
} as const;

/**
 * sendto(fd, buf, len, flags, dest_addr, addrlen): a NULL dest_addr (send() on a connected
 * socket) is allowed without a round trip; the peer was checked at connect. The pointer is
 * a register, so the kernel uses the very value tested here.
 */
export function sendtoWithDestination(b: BpfAssembler, p: string): void {
  b.load(SeccompData.argLow(4))
    .jeq(0, 0, `${p}notify`)
    .load(SeccompData.argHigh(4))
    .jeq(0, 0, `${p}notify`)
    .ret(Ret.ALLOW);
  b.label(`${p}notify`).ret(Ret.USER_NOTIF);
}

/** setsockopt(fd, level, optname, ...): level and optname are ints (low halves). */
export function sourceRoutingBlock(b: BpfAssembler, p: string): void {
  const S = SOURCE_ROUTING;
  b.load(SeccompData.argLow(1))
    .jeq(S.SOL_IP, 0, `${p}v6`)
    .load(SeccompData.argLow(2))
    .jeq(S.IP_OPTIONS, `${p}deny`, `${p}allow`);
  b.label(`${p}v6`)
    .jeq(S.SOL_IPV6, 0, `${p}allow`)
    .load(SeccompData.argLow(2))
    .jeq(S.IPV6_2292RTHDR, `${p}deny`, 0)
    .jeq(S.IPV6_2292PKTOPTIONS, `${p}deny`, 0)
    .jeq(S.IPV6_RTHDR, `${p}deny`, `${p}allow`);
  b.label(`${p}deny`).ret(Ret.errno(EPERM));
  b.label(`${p}allow`).ret(Ret.ALLOW);
}
