# The native part: built from source here and by `npm rebuild sandlock`; the package ships
# it prebuilt (scripts/prebuild.mjs). Warnings are errors only in this repository's builds
# (scripts/install.cjs sets sandlock_werror=1 there), never at a user's from-source build.
{
  "variables": {
    "sandlock_werror%": 0
  },
  "target_defaults": {
    "conditions": [
      ["sandlock_werror==1", { "cflags": ["-Werror"] }]
    ],
    "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wshadow", "-Wstrict-prototypes", "-O2", "-D_FORTIFY_SOURCE=2", "-fstack-protector-strong"],
    "cflags!": ["-fno-exceptions"]
  },
  "targets": [
    {
      "target_name": "sandlock_native",
      "sources": ["native/addon.c", "native/notify.c", "native/net.c", "native/net-host.c", "native/procfs.c", "native/fork.c", "native/zygote-preload.c", "native/ptrace.c", "native/ptrace-restore.c", "native/files.c", "native/meta.c", "native/answer.c", "native/kmem.c", "native/fastpath.c", "native/notify-thread.c", "native/memcredit.c", "native/proccredit.c", "native/splice.c", "native/timer.c", "native/startfile.c", "native/populated.c", "native/keyring.c", "native/inotify-broker.c", "native/sender.c"]
    },
    {
      "target_name": "sandlock-launcher",
      "type": "executable",
      "sources": ["native/launcher/main.c", "native/launcher/steps.c", "native/launcher/tree.c", "native/launcher/teardown.c", "native/launcher/scope.c", "native/launcher/cpu.c", "native/launcher/ns.c", "native/launcher/init.c", "native/launcher/cow.c", "native/launcher/deny.c", "native/launcher/userns.c", "native/launcher/chroot.c", "native/launcher/vclock.c", "native/launcher/vdso.c", "native/launcher/restore.c", "native/launcher/standby.c", "native/launcher/broker.c", "native/launcher/sender.c", "native/launcher/nolibc.c"],
      "cflags": ["-ffreestanding", "-fno-builtin", "-fno-stack-protector", "-fno-tree-loop-distribute-patterns", "-fno-asynchronous-unwind-tables", "-U_FORTIFY_SOURCE", "-fno-pie"],
      "cflags!": ["-fstack-protector-strong", "-D_FORTIFY_SOURCE=2"],
      "ldflags": ["-static", "-nostdlib", "-no-pie"],
      "libraries!": ["-lpthread"]
    }
  ]
}
