/* SL_STEP_RESTORE (checkpoint restore): instead of exec, the command's process, fully
 * confined by the steps before it, maps two pages at the address TypeScript chose (a hole
 * of the image): a code page holding "syscall" (with a pause loop for new threads, and a
 * loop of clones whose threads exit at once, made only to use up ids) and a scratch page,
 * closes every descriptor but 0-2 (the report pipe's EOF tells the launcher "started") and
 * sleeps.
 * TypeScript then seizes it and rebuilds the image through that instruction
 * (src/checkpoint/restore-run.ts); no code of the image runs before its registers are set. */
#include "launcher.h"

#define NR_mprotect_ 10
#define PROT_READ_ 1
#define PROT_WRITE_ 2
#define PROT_EXEC_ 4
#define MAP_PRIVATE_ 0x02
#define MAP_ANONYMOUS_ 0x20
#define MAP_FIXED_NOREPLACE_ 0x100000
#define PAGE_ 4096
#define EEXIST_ 17

long sl_restore_stop(const uint8_t *p, uint32_t len) {
  if (len < 8) return -EINVAL;
  uint64_t at;
  memcpy(&at, p, sizeof at);
  if (at == 0 || at % PAGE_ != 0) return -EINVAL;
  /* NOREPLACE: an address the launcher itself uses fails the start instead of being lost. */
  long rc = sl_syscall6(NR_mmap, (long)at, 2 * PAGE_, PROT_READ_ | PROT_WRITE_, MAP_PRIVATE_ | MAP_ANONYMOUS_ | MAP_FIXED_NOREPLACE_, -1, 0);
  if (rc < 0) return rc;
  if ((uint64_t)rc != at) return -EEXIST_; /* a kernel before 4.17 ignores NOREPLACE */
  /* At 0: syscall; then, for a thread a remote clone() starts here: 1: pause(); jmp 1b. It
   * sleeps there until TypeScript seizes it and gives it its saved registers.
   * At 11: syscall; then exit(0): a thread a remote clone() starts there ends at once.
   * At 24, a loop of rbx clones with the arguments in rdi, rsi, rdx, r10, r8 (set by
   * TypeScript): each new thread exits at once, and the loop ends in int3 (a SIGTRAP stop
   * for the tracer) after the last one or at the first error, rax the last id or -errno.
   * The restore makes such threads only to use up ids of its pid namespace, so that the
   * image's threads get back the ids they had (restore-run.ts, Ids).
   *   24: mov eax, 56; syscall; test rax, rax; jz 44; js 43; dec rbx; jnz 24
   *   43: int3
   *   44: mov eax, 60; xor edi, edi; syscall; jmp . */
  static const uint8_t code[] = {
      0x0f, 0x05, 0xb8, 34, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xf7,                  /* 0 */
      0x0f, 0x05, 0xb8, 60, 0, 0, 0, 0x31, 0xff, 0x0f, 0x05, 0xeb, 0xfe,      /* 11 */
      0xb8, 56, 0, 0, 0, 0x0f, 0x05, 0x48, 0x85, 0xc0, 0x74, 0x08, 0x78, 0x05, /* 24 */
      0x48, 0xff, 0xcb, 0x75, 0xed, 0xcc,                                     /* 38 */
      0xb8, 60, 0, 0, 0, 0x31, 0xff, 0x0f, 0x05, 0xeb, 0xfe,                  /* 44 */
  };
  memcpy((void *)(uintptr_t)at, code, sizeof code);
  rc = SC3(NR_mprotect_, at, PAGE_, PROT_READ_ | PROT_EXEC_);
  if (rc < 0) return rc;
  /* Every descriptor above stdio, the report and ack pipes included: their EOF is the
   * launcher's "started" (as an exec's close-on-exec would be). */
  rc = SC3(NR_close_range, 3, ~0U, 0);
  if (rc < 0) return rc;
  for (;;) SC5(NR_ppoll, NULL, 0, NULL, NULL, 8);
}
