// Named groups of system calls, usable in extraDenySyscalls (and, for the liftable ones,
// extraAllowSyscalls). Every member must be a name of the syscall table.

export const SYSCALL_GROUPS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  sysv_ipc: [
    "shmget", "shmat", "shmdt", "shmctl",
    "msgget", "msgsnd", "msgrcv", "msgctl",
    "semget", "semop", "semctl", "semtimedop",
  ],
  mount_api: ["fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "open_tree_attr", "mount_setattr"],
  io_uring: ["io_uring_setup", "io_uring_enter", "io_uring_register"],
  keyring: ["keyctl", "add_key", "request_key"],
  posix_mq: ["mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr"],
});

/** Groups of the default blocklist that a policy may lift with extraAllowSyscalls. */
export const LIFTABLE_GROUPS: readonly string[] = Object.freeze(["sysv_ipc"]);
