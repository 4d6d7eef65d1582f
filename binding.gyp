{
  "target_defaults": {
    "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter", "-Wshadow", "-Wstrict-prototypes", "-O2", "-D_FORTIFY_SOURCE=2", "-fstack-protector-strong"],
    "cflags!": ["-fno-exceptions"]
  },
  "targets": [
    {
      "target_name": "sandlock_native",
      "sources": ["native/addon.c"]
    },
    {
      "target_name": "sandlock-launcher",
      "type": "executable",
      "sources": ["native/launcher.c", "native/launcher_steps.c", "native/launcher_tree.c"],
      "ldflags": ["-static"]
    }
  ]
}
