// Milliseconds on the monotonic clock, for intervals. Not performance.now(): the global
// `performance` loads perf_hooks on first use, 1.4 ms of a CLI run's start measured here
// (every supervised run built one at its start for the netlink request rate).

export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
