// The checkpoint format on its own: encode -> decode gives back every field, and each kind
// of damage to the files is refused with a message naming the file and the problem.

import assert from "node:assert/strict";
import { test } from "node:test";
import { CheckpointError } from "../../src/errors.js";
import { decodeCheckpoint, encodeCheckpoint, sha256 } from "../../src/checkpoint/format.js";
import type { CheckpointData } from "../../src/checkpoint/image.js";

const page = (fill: number): Buffer => Buffer.alloc(4096, fill);

function sample(): CheckpointData {
  const thread = (tid: number) => ({
    tid,
    regsets: [
      { note: 1, name: "prstatus", data: Buffer.from(Array.from({ length: 216 }, (_, i) => i & 0xff)) },
      { note: 2, name: "fpregset", data: Buffer.alloc(512, 7) },
      { note: 0x202, name: "xstate", data: Buffer.alloc(2432, 9) },
    ],
    stop: "interrupt" as const,
    pendingSignal: 0,
    sigBlocked: "0000000000000000",
    sigPending: "0000000000000000",
    rseq: tid === 100 ? { address: 0x7f00_0000_0fe0n, length: 32, signature: 0x53053053, flags: 0 } : null,
    robustList: { head: 0x7f00_0000_09a0n, length: 24 },
  });
  return {
    createdAt: "2025-01-02T03:04:05.000Z",
    arch: "x64",
    kernel: "6.18.0",
    policy: { fsReadable: ["/usr"], maxMemory: "1073741824" },
    appState: Buffer.from([0, 0xff, 0, 1, 0xff]),
    processes: [
      {
        pid: 100,
        ppid: 99,
        pgid: 100,
        sid: 100,
        comm: "a b) c",
        cmdline: ["prog", "", "ü"],
        exe: "/usr/bin/prog (deleted)",
        cwd: "/tmp",
        root: "/",
        umask: 0o22,
        pageSize: 4096,
        auxv: Buffer.from([6, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0]),
        sigSharedPending: "0000000000000000",
        sigIgnored: "0000000000001000",
        sigCaught: "0000000000004a02",
        threads: [thread(100), { ...thread(101), stop: "signal" as const, pendingSignal: 10 }],
        maps: [
          { start: 0x5555_0000_0000n, end: 0x5555_0000_2000n, perms: "rw-p", offset: 0x1000, device: "fd:01", inode: 1234, path: "/usr/bin/prog" },
          { start: 0xffff_ffff_ff60_0000n, end: 0xffff_ffff_ff60_1000n, perms: "--xp", offset: 0, device: "00:00", inode: 0, path: "[vsyscall]" },
        ],
        memory: [
          { start: 0x5555_0000_0000n, data: Buffer.concat([page(1), page(2)]) },
          { start: 0x7ffc_0000_0000n, data: page(3) },
        ],
        fds: [
          { fd: 3, target: "/tmp/x y", flags: 0o2100001, pos: 12345, mntId: 24 },
          { fd: 4, target: "/tmp/x y", flags: 0o100001, pos: 12345, mntId: 24, sharedWith: { pid: 100, fd: 3 } },
        ],
        fdsCompared: true,
        timers: {
          itimers: [{ which: 0, interval: [0, 0], remaining: [3, 250000] }],
          posix: [{ id: 1, clock: 1, signo: 10, sigValue: 0xffff_ffff_ffff_fff0n, notify: 4, tid: 101, interval: [1, 5], remaining: [2, 999999999] }],
        },
      },
      {
        pid: 101,
        ppid: 100,
        pgid: 100,
        sid: 100,
        comm: "child",
        cmdline: [],
        exe: "/usr/bin/prog",
        cwd: "/",
        root: "/",
        umask: -1,
        pageSize: 4096,
        auxv: Buffer.alloc(0),
        sigSharedPending: "",
        sigIgnored: "",
        sigCaught: "",
        threads: [{ ...thread(102), stop: "group-stop" as const }],
        maps: [],
        memory: [],
        fds: [],
      },
    ],
  };
}

const decode = (files: Map<string, Buffer>) => decodeCheckpoint("/cp", (name) => files.get(name));

/** Rewrites manifest.json after a change so that only the intended damage remains. */
function reseal(files: Map<string, Buffer>): Map<string, Buffer> {
  const m = JSON.parse(files.get("manifest.json")!.toString());
  for (const f of m.files) {
    const data = files.get(f.name)!;
    f.bytes = data.length;
    f.sha256 = sha256(data);
  }
  files.set("manifest.json", Buffer.from(JSON.stringify(m)));
  return files;
}

function editMetadata(edit: (meta: any) => void): Map<string, Buffer> {
  const files = encodeCheckpoint(sample());
  const meta = JSON.parse(files.get("checkpoint.json")!.toString());
  edit(meta);
  files.set("checkpoint.json", Buffer.from(JSON.stringify(meta)));
  return reseal(files);
}

function refused(files: Map<string, Buffer>, message: RegExp, path?: string): void {
  assert.throws(
    () => decode(files),
    (e: unknown) => {
      assert.ok(e instanceof CheckpointError, String(e));
      assert.equal(e.code, "CHECKPOINT_INVALID");
      assert.match(e.message, message);
      if (path !== undefined) assert.equal(e.path, path);
      return true;
    },
  );
}

test("encode then decode gives back every field, addresses above 2^53 and odd bytes included", () => {
  const data = sample();
  assert.deepEqual(decode(encodeCheckpoint(data)), data);
});

test("the files: one manifest listing each file with its size and SHA-256, memory at page-aligned offsets", () => {
  const files = encodeCheckpoint(sample());
  assert.deepEqual([...files.keys()].sort(), ["app-state.bin", "checkpoint.json", "manifest.json", "pages-100.bin", "pages-101.bin", "state-100.bin", "state-101.bin"]);
  const m = JSON.parse(files.get("manifest.json")!.toString());
  assert.equal(m.format, "sandlock-checkpoint");
  assert.equal(m.version, 1);
  for (const f of m.files) {
    assert.equal(f.bytes, files.get(f.name)!.length, f.name);
    assert.equal(f.sha256, sha256(files.get(f.name)!), f.name);
  }
  const meta = JSON.parse(files.get("checkpoint.json")!.toString());
  assert.deepEqual(
    meta.processes[0].memory.map((s: { data: { offset: number } }) => s.data.offset % 4096),
    [0, 0],
  );
  assert.equal(meta.processes[0].maps[1].start, "0xffffffffff600000");
  assert.equal(encodeCheckpoint({ ...sample(), appState: null }).has("app-state.bin"), false);
});

test("no manifest, a manifest that is not JSON, another format, another version", () => {
  const files = encodeCheckpoint(sample());
  const without = new Map(files);
  without.delete("manifest.json");
  refused(without, /^checkpoint \/cp: manifest\.json is missing: not a checkpoint directory, or its save did not finish$/, "manifest.json");
  refused(new Map(files).set("manifest.json", files.get("manifest.json")!.subarray(0, 40)), /manifest\.json is not valid JSON, truncated or corrupt/);
  const other = JSON.parse(files.get("manifest.json")!.toString());
  refused(new Map(files).set("manifest.json", Buffer.from(JSON.stringify({ ...other, format: "criu" }))), /manifest\.json says format "criu", not "sandlock-checkpoint": not a sandlock checkpoint$/);
  refused(new Map(files).set("manifest.json", Buffer.from(JSON.stringify({ ...other, version: 2 }))), /format version 2 is not supported \(this sandlock reads version 1\)$/);
  refused(new Map(files).set("manifest.json", Buffer.from(JSON.stringify({ ...other, version: "1" }))), /format version "1" is not supported/);
});

test("manifest entries: a path for a name, a duplicate, no checkpoint.json", () => {
  const files = encodeCheckpoint(sample());
  const m = JSON.parse(files.get("manifest.json")!.toString());
  const withFiles = (list: unknown[]) => new Map(files).set("manifest.json", Buffer.from(JSON.stringify({ ...m, files: list })));
  refused(withFiles([...m.files, { ...m.files[0], name: "../etc/passwd" }]), /files\[6\]\.name "\.\.\/etc\/passwd" is not a valid file name$/);
  refused(withFiles([...m.files, m.files[0]]), /manifest\.json: checkpoint\.json is listed twice$/);
  refused(withFiles(m.files.filter((f: { name: string }) => f.name !== "checkpoint.json")), /manifest\.json does not list checkpoint\.json$/);
});

test("a listed file missing, truncated, longer than recorded, or with a flipped byte", () => {
  const files = encodeCheckpoint(sample());
  const gone = new Map(files);
  gone.delete("pages-100.bin");
  refused(gone, /: pages-100\.bin is missing \(manifest\.json lists it\)$/, "pages-100.bin");
  refused(new Map(files).set("pages-100.bin", files.get("pages-100.bin")!.subarray(0, 5000)), /: pages-100\.bin is truncated: 5000 of 12288 bytes$/, "pages-100.bin");
  refused(new Map(files).set("state-101.bin", Buffer.concat([files.get("state-101.bin")!, Buffer.alloc(3)])), /: state-101\.bin is \d+ bytes, 3 more than manifest\.json records/);
  const flipped = Buffer.from(files.get("app-state.bin")!);
  flipped[1] = 0x00;
  refused(new Map(files).set("app-state.bin", flipped), /: app-state\.bin is corrupt: its SHA-256 does not match manifest\.json$/, "app-state.bin");
  const meta = Buffer.from(files.get("checkpoint.json")!);
  meta[10] = meta[10]! ^ 1;
  refused(new Map(files).set("checkpoint.json", meta), /checkpoint\.json is corrupt/);
});

test("checkpoint.json: wrong types, bad addresses and ranges point at the field", () => {
  refused(editMetadata((m) => (m.processes[0].pid = "100")), /: processes\[0\]\.pid must be an integer >= 1, got "100"$/, "checkpoint.json");
  refused(editMetadata((m) => (m.processes[0].maps[0].start = "5555")), /processes\[0\]\.maps\[0\]\.start must be a hexadecimal address like "0x7ffc0000", got "5555"$/);
  refused(editMetadata((m) => (m.processes[0].maps[0].end = m.processes[0].maps[0].start)), /processes\[0\]\.maps\[0\]: end 0x555500000000 is not above start 0x555500000000$/);
  refused(editMetadata((m) => (m.processes[0].maps[0].perms = "rwxq")), /maps\[0\]\.perms "rwxq" is not like "rw-p"$/);
  refused(editMetadata((m) => (m.processes[0].memory[1].start = "0x7ffc00000010")), /processes\[0\]\.memory\[1\] is not whole pages of 4096 bytes$/);
  refused(editMetadata((m) => (m.processes[0].memory[0].data.length = 1 << 20)), /memory\[0\]\.data \(bytes 0\.\.1048576\) lies beyond the end of pages-100\.bin \(12288 bytes\)$/);
  refused(editMetadata((m) => (m.processes[0].auxv.file = "other.bin")), /processes\[0\]\.auxv points into "other\.bin", which manifest\.json does not list$/);
  refused(editMetadata((m) => (m.processes[0].auxv.file = "manifest.json")), /points into "manifest\.json", which manifest\.json does not list$/);
  refused(editMetadata((m) => m.processes[0].threads[0].regsets.shift()), /processes\[0\]\.threads\[0\]\.regsets must start with prstatus$/);
  refused(editMetadata((m) => (m.processes[0].threads[1].stop = "frozen")), /threads\[1\]\.stop must be one of interrupt, group-stop, signal, got "frozen"$/);
  refused(editMetadata((m) => (m.processes[1].sigIgnored = "xyz")), /processes\[1\]\.sigIgnored must be a hexadecimal signal mask, got "xyz"$/);
  refused(editMetadata((m) => (m.processes = {})), /: processes must be an array$/);
  refused(editMetadata((m) => (m.createdAt = "yesterday")), /createdAt "yesterday" is not an ISO date$/);
  refused(editMetadata((m) => (m.processes[0].fds[0].mntId = -2)), /fds\[0\]\.mntId must be an integer >= -1, got -2$/);
});

test("values a capture never writes: a page size that is not Linux's, a signal above 64, a pid or thread listed twice", () => {
  refused(editMetadata((m) => (m.processes[0].pageSize = 2 << 20)), /processes\[0\]\.pageSize must be an integer from 4096 to 65536, got 2097152$/);
  refused(editMetadata((m) => (m.processes[0].pageSize = 0)), /processes\[0\]\.pageSize must be an integer from 4096 to 65536, got 0$/);
  refused(editMetadata((m) => (m.processes[0].pageSize = 6144)), /processes\[0\]\.pageSize must be a power of two, got 6144$/);
  refused(editMetadata((m) => (m.processes[0].sigActions = [{ sig: 1073741823, handler: "0x1", flags: "0x0", restorer: "0x0", mask: "0x0" }])), /processes\[0\]\.sigActions\[0\]\.sig must be an integer from 1 to 64, got 1073741823$/);
  refused(editMetadata((m) => (m.processes[0].threads[1].pendingSignal = 999)), /processes\[0\]\.threads\[1\]\.pendingSignal must be an integer from 0 to 64, got 999$/);
  refused(editMetadata((m) => (m.processes[1].pid = 100)), /: processes: process 100 is listed twice$/);
  refused(editMetadata((m) => (m.processes[1].threads[0].tid = 101)), /: processes: thread 101 of process 101 is also a thread of process 100$/);
});

test("the restore-state fields: a sharedWith fd below 3, a timer time that is not [s, fraction], an itimer which above 2", () => {
  const bad = (edit: (p: any) => void, message: RegExp): void => {
    const files = encodeCheckpoint(sample());
    const meta = JSON.parse(files.get("checkpoint.json")!.toString());
    edit(meta.processes[0]);
    const data = Buffer.from(JSON.stringify(meta));
    files.set("checkpoint.json", data);
    const manifest = JSON.parse(files.get("manifest.json")!.toString());
    for (const f of manifest.files) if (f.name === "checkpoint.json") Object.assign(f, { bytes: data.length, sha256: sha256(data) });
    files.set("manifest.json", Buffer.from(JSON.stringify(manifest)));
    assert.throws(() => decodeCheckpoint("/cp", (n) => files.get(n)), (e: unknown) => e instanceof CheckpointError && message.test(e.message));
  };
  bad((p) => (p.fds[1].sharedWith.fd = 1), /processes\[0\]\.fds\[1\]\.sharedWith\.fd must be an integer >= 3, got 1/);
  bad((p) => (p.timers.posix[0].remaining = [2]), /processes\[0\]\.timers\.posix\[0\]\.remaining must be \[seconds, fraction\]/);
  bad((p) => (p.timers.itimers[0].which = 3), /processes\[0\]\.timers\.itimers\[0\]\.which must be 0, 1 or 2, got 3/);
  bad((p) => (p.threads[0].rseq.address = "12"), /processes\[0\]\.threads\[0\]\.rseq\.address must be a hexadecimal address/);
  bad((p) => (p.fdsCompared = "yes"), /processes\[0\]\.fdsCompared must be true or false/);
});
