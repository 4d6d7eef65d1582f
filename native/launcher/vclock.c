/* The exec stop of timeStart and policyFn (SPEC 2.1, 6): the launcher traces the command's
 * processes with PTRACE_SEIZE. At each exec stop, before the new program runs a single
 * instruction, it rewrites the program's vDSO clock functions into a stub that reads
 * CLOCK_MONOTONIC with a real system call and adds the sandbox's offset (timeStart), and
 * holds the program until TypeScript has checked that it is what policyFn approved. */
#include "launcher.h"

#define NR_pwrite64 18
#define NR_ptrace 101
#define NR_clock_gettime 228
#define PTRACE_CONT 7
#define PTRACE_GETEVENTMSG 0x4201
#define PTRACE_SEIZE 0x4206
#define PTRACE_LISTEN 0x4208
#define PTRACE_O_TRACEFORK 0x02
#define PTRACE_O_TRACEVFORK 0x04
#define PTRACE_O_TRACECLONE 0x08
#define PTRACE_O_TRACEEXEC 0x10
#define PTRACE_O_EXITKILL 0x100000
#define PTRACE_EVENT_EXEC 4
#define PTRACE_EVENT_STOP 128
#define CLOCK_MONOTONIC 1
#define AT_SYSINFO_EHDR 33
#define O_RDWR 02
#define NSEC 1000000000LL
#define ENOSPC 28

/* The stub, assembled from this source (GNU as, x86-64) and copied below byte for byte.
 * It runs in the traced program as its vDSO functions; the two constants at its end are
 * the offset (seconds, nanoseconds in [0, 1e9)) from CLOCK_MONOTONIC to the virtual wall
 * clock. REALTIME_COARSE reads the fine clock too: both cost one system call here, and a
 * coarse read could otherwise show a time before timeStart. Every other clock is the kernel's own answer through a real system call (which
 * the seccomp filter routes by clock id). Offsets: 0 clock_gettime, 0x62 gettimeofday,
 * 0xdf time, 0x128 seconds, 0x130 nanoseconds.
 *
 *   cg:   cmp $0,%edi; je 1f; cmp $5,%edi; je 1f; cmp $11,%edi; je 1f   (REALTIME, _COARSE, TAI)
 *         mov $228,%eax; syscall; ret
 *   1:    mov $1,%eax; mov $1,%ecx; cmp $5,%edi; cmove %ecx,%eax; mov %eax,%edi
 *         mov $228,%eax; syscall; test %rax,%rax; jnz 3f              (CLOCK_MONOTONIC)
 *         mov off_sec(%rip),%rax; add %rax,(%rsi); mov 8(%rsi),%rax; add off_nsec(%rip),%rax
 *         cmp $1000000000,%rax; jb 2f; sub $1000000000,%rax; incq (%rsi)
 *   2:    mov %rax,8(%rsi); xor %eax,%eax
 *   3:    ret
 *   gtod: test %rsi,%rsi; jz 1f; push %rdi; xor %edi,%edi; mov $96,%eax; syscall  (tz only)
 *         pop %rdi; test %rax,%rax; jnz 3f
 *   1:    test %rdi,%rdi; jz 4f; mov %rdi,%r9; sub $24,%rsp; mov $1,%edi; mov %rsp,%rsi
 *         mov $228,%eax; syscall; test %rax,%rax; jnz 2f
 *         mov (%rsp),%rax; add off_sec(%rip),%rax; mov 8(%rsp),%rcx; add off_nsec(%rip),%rcx
 *         cmp $1000000000,%rcx; jb 5f; sub $1000000000,%rcx; inc %rax
 *   5:    mov %rax,(%r9); mov %rcx,%rax; xor %edx,%edx; mov $1000,%ecx; div %rcx
 *         mov %rax,8(%r9); xor %eax,%eax
 *   2:    add $24,%rsp
 *   3:    ret
 *   4:    xor %eax,%eax; ret
 *   tm:   mov %rdi,%r9; sub $24,%rsp; mov $1,%edi; mov %rsp,%rsi; mov $228,%eax; syscall
 *         mov (%rsp),%rax; add off_sec(%rip),%rax; mov 8(%rsp),%rcx; add off_nsec(%rip),%rcx
 *         add $24,%rsp; cmp $1000000000,%rcx; jb 1f; inc %rax
 *   1:    test %r9,%r9; jz 2f; mov %rax,(%r9)
 *   2:    ret
 *         .balign 8; off_sec: .quad 0; off_nsec: .quad 0
 */
static const uint8_t stub[] = {
  0x83, 0xff, 0x00, 0x74, 0x12, 0x83, 0xff, 0x05, 0x74, 0x0d, 0x83, 0xff,
  0x0b, 0x74, 0x08, 0xb8, 0xe4, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xc3, 0xb8,
  0x01, 0x00, 0x00, 0x00, 0xb9, 0x01, 0x00, 0x00, 0x00, 0x83, 0xff, 0x05,
  0x0f, 0x44, 0xc1, 0x89, 0xc7, 0xb8, 0xe4, 0x00, 0x00, 0x00, 0x0f, 0x05,
  0x48, 0x85, 0xc0, 0x75, 0x2c, 0x48, 0x8b, 0x05, 0xec, 0x00, 0x00, 0x00,
  0x48, 0x01, 0x06, 0x48, 0x8b, 0x46, 0x08, 0x48, 0x03, 0x05, 0xe6, 0x00,
  0x00, 0x00, 0x48, 0x3d, 0x00, 0xca, 0x9a, 0x3b, 0x72, 0x09, 0x48, 0x2d,
  0x00, 0xca, 0x9a, 0x3b, 0x48, 0xff, 0x06, 0x48, 0x89, 0x46, 0x08, 0x31,
  0xc0, 0xc3, 0x48, 0x85, 0xf6, 0x74, 0x10, 0x57, 0x31, 0xff, 0xb8, 0x60,
  0x00, 0x00, 0x00, 0x0f, 0x05, 0x5f, 0x48, 0x85, 0xc0, 0x75, 0x64, 0x48,
  0x85, 0xff, 0x74, 0x60, 0x49, 0x89, 0xf9, 0x48, 0x83, 0xec, 0x18, 0xbf,
  0x01, 0x00, 0x00, 0x00, 0x48, 0x89, 0xe6, 0xb8, 0xe4, 0x00, 0x00, 0x00,
  0x0f, 0x05, 0x48, 0x85, 0xc0, 0x75, 0x40, 0x48, 0x8b, 0x04, 0x24, 0x48,
  0x03, 0x05, 0x86, 0x00, 0x00, 0x00, 0x48, 0x8b, 0x4c, 0x24, 0x08, 0x48,
  0x03, 0x0d, 0x82, 0x00, 0x00, 0x00, 0x48, 0x81, 0xf9, 0x00, 0xca, 0x9a,
  0x3b, 0x72, 0x0a, 0x48, 0x81, 0xe9, 0x00, 0xca, 0x9a, 0x3b, 0x48, 0xff,
  0xc0, 0x49, 0x89, 0x01, 0x48, 0x89, 0xc8, 0x31, 0xd2, 0xb9, 0xe8, 0x03,
  0x00, 0x00, 0x48, 0xf7, 0xf1, 0x49, 0x89, 0x41, 0x08, 0x31, 0xc0, 0x48,
  0x83, 0xc4, 0x18, 0xc3, 0x31, 0xc0, 0xc3, 0x49, 0x89, 0xf9, 0x48, 0x83,
  0xec, 0x18, 0xbf, 0x01, 0x00, 0x00, 0x00, 0x48, 0x89, 0xe6, 0xb8, 0xe4,
  0x00, 0x00, 0x00, 0x0f, 0x05, 0x48, 0x8b, 0x04, 0x24, 0x48, 0x03, 0x05,
  0x28, 0x00, 0x00, 0x00, 0x48, 0x8b, 0x4c, 0x24, 0x08, 0x48, 0x03, 0x0d,
  0x24, 0x00, 0x00, 0x00, 0x48, 0x83, 0xc4, 0x18, 0x48, 0x81, 0xf9, 0x00,
  0xca, 0x9a, 0x3b, 0x72, 0x03, 0x48, 0xff, 0xc0, 0x4d, 0x85, 0xc9, 0x74,
  0x03, 0x49, 0x89, 0x01, 0xc3, 0x0f, 0x1f, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
#define STUB_GTOD 0x62
#define STUB_TIME 0xdf
#define STUB_OFF_SEC 0x128
#define STUB_OFF_NSEC 0x130

/* The vDSO is two pages on 6.x x86-64; a larger image than this is not patched (kill). */
#define VDSO_MAX 16384

struct elf64_ehdr {
  uint8_t ident[16];
  uint16_t type, machine;
  uint32_t version;
  uint64_t entry, phoff, shoff;
  uint32_t flags;
  uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct elf64_shdr {
  uint32_t name, type;
  uint64_t flags, addr, offset, size;
  uint32_t link, info;
  uint64_t addralign, entsize;
};
struct elf64_sym {
  uint32_t name;
  uint8_t info, other;
  uint16_t shndx;
  uint64_t value, size;
};
#define SHT_DYNSYM 11

static int active = 0; /* traced at all */
/* Programs stopped at their exec for TypeScript's verdict: a verdict resumes only one of
 * these, never a process stopped for another reason. Beyond the table: killed. */
#define PENDING_MAX 256
static pid_t pending[PENDING_MAX];
static int clock_on = 0, execs_on = 0;
static int64_t off_sec = 0, off_nsec = 0;

int sl_vclock_active(void) { return active; }

/* The plan's SL_STEP_TRACE payload: u32 flags, u32 pad, i64 seconds, u32 nanoseconds of
 * timeStart. The offset is taken now, just before the command's process is traced: the
 * virtual clock starts at timeStart at this moment and then runs with CLOCK_MONOTONIC. */
long sl_vclock_init(const uint8_t *p, uint32_t len, int64_t *sec_out, int64_t *nsec_out) {
  if (len < 20) return -EINVAL;
  uint32_t flags, nsec;
  int64_t sec;
  memcpy(&flags, p, 4);
  memcpy(&sec, p + 8, 8);
  memcpy(&nsec, p + 16, 4);
  if (nsec >= NSEC || (flags & ~(uint32_t)(SL_TRACE_CLOCK | SL_TRACE_EXECS)) != 0 || flags == 0) return -EINVAL;
  clock_on = (flags & SL_TRACE_CLOCK) != 0;
  execs_on = (flags & SL_TRACE_EXECS) != 0;
  if (clock_on) {
    struct { int64_t sec, nsec; } now;
    long rc = SC2(NR_clock_gettime, CLOCK_MONOTONIC, &now);
    if (rc < 0) return rc;
    off_sec = sec - now.sec;
    off_nsec = (int64_t)nsec - now.nsec;
    if (off_nsec < 0) {
      off_nsec += NSEC;
      off_sec--;
    }
  }
  active = 1;
  *sec_out = off_sec;
  *nsec_out = off_nsec;
  return 0;
}

/* Every process and thread the command starts is traced too (fork, vfork, clone): an exec
 * anywhere in the sandbox stops. EXITKILL: the launcher's death kills them all. The
 * sandbox cannot detach or trace anything itself: its filter blocks ptrace. */
long sl_vclock_seize(pid_t pid) {
  long opts = PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL;
  return SC4(NR_ptrace, PTRACE_SEIZE, pid, 0, opts);
}

static int open_proc(pid_t pid, const char *leaf, int flags) {
  char path[48] = "/proc/";
  size_t n = 6;
  char digits[16];
  int k = 0;
  unsigned v = (unsigned)pid;
  do {
    digits[k++] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (k > 0) path[n++] = digits[--k];
  path[n++] = '/';
  for (const char *s = leaf; *s != '\0'; s++) path[n++] = *s;
  path[n] = '\0';
  return (int)SC4(NR_openat, AT_FDCWD, path, flags | O_CLOEXEC, 0);
}

/* The vDSO's address from the process's auxiliary vector, 0 when it has none. */
static long vdso_base(pid_t pid, uint64_t *base) {
  int fd = open_proc(pid, "auxv", O_RDONLY);
  if (fd < 0) return fd;
  uint64_t av[128];
  long n = SC4(NR_pread64, fd, av, sizeof av, 0);
  SC1(NR_close, fd);
  if (n < 0) return n;
  *base = 0;
  for (long i = 0; i + 1 < n / 8; i += 2) {
    if (av[i] == AT_SYSINFO_EHDR) *base = av[i + 1];
    if (av[i] == 0) break;
  }
  return 0;
}

static int name_is(const uint8_t *img, size_t size, uint64_t at, const char *want) {
  size_t i = 0;
  for (; want[i] != '\0'; i++) {
    if (at + i >= size || img[at + i] != (uint8_t)want[i]) return 0;
  }
  return at + i < size && img[at + i] == '\0';
}

/* Finds the three clock functions in the image's dynamic symbols: their offsets and the
 * size of clock_gettime (the stub must fit in it). */
static long find_symbols(const uint8_t *img, size_t size, uint64_t off[3], uint64_t *cg_size) {
  static const char *const names[3] = {"__vdso_clock_gettime", "__vdso_gettimeofday", "__vdso_time"};
  struct elf64_ehdr eh;
  if (size < sizeof eh) return -EINVAL;
  memcpy(&eh, img, sizeof eh);
  if (eh.ident[0] != 0x7f || eh.ident[1] != 'E' || eh.ident[4] != 2 /* 64-bit */ || eh.machine != 62 /* x86-64 */) return -EINVAL;
  if (eh.shentsize != sizeof(struct elf64_shdr) || eh.shoff > size || (uint64_t)eh.shnum * sizeof(struct elf64_shdr) > size - eh.shoff) return -EINVAL;
  off[0] = off[1] = off[2] = 0;
  for (unsigned s = 0; s < eh.shnum; s++) {
    struct elf64_shdr sh, str;
    memcpy(&sh, img + eh.shoff + s * sizeof sh, sizeof sh);
    if (sh.type != SHT_DYNSYM || sh.link >= eh.shnum) continue;
    memcpy(&str, img + eh.shoff + sh.link * sizeof str, sizeof str);
    if (sh.offset > size || sh.size > size - sh.offset || str.offset > size || str.size > size - str.offset) return -EINVAL;
    for (uint64_t o = 0; o + sizeof(struct elf64_sym) <= sh.size; o += sizeof(struct elf64_sym)) {
      struct elf64_sym sym;
      memcpy(&sym, img + sh.offset + o, sizeof sym);
      if (sym.name >= str.size) continue;
      for (int k = 0; k < 3; k++) {
        if (!name_is(img, str.offset + str.size, str.offset + sym.name, names[k])) continue;
        off[k] = sym.value;
        if (k == 0) *cg_size = sym.size;
      }
    }
  }
  for (int k = 0; k < 3; k++) {
    if (off[k] == 0 || off[k] + 5 > size) return -ENOENT;
  }
  return 0;
}

/* A jmp rel32 at `from` to `to`, both image offsets. */
static void put_jmp(uint8_t out[5], uint64_t from, uint64_t to) {
  int32_t rel = (int32_t)((int64_t)to - (int64_t)(from + 5));
  out[0] = 0xe9;
  memcpy(out + 1, &rel, 4);
}

static long write_all_at(int fd, const void *buf, size_t len, uint64_t at) {
  long n = SC4(NR_pwrite64, fd, buf, len, at);
  return n == (long)len ? 0 : n < 0 ? n : -EIO;
}

/* Rewrites the stopped process's vDSO. /proc/<pid>/mem writes with FOLL_FORCE, as a
 * debugger's breakpoint does: the vDSO's text pages are private to the process, so the
 * write lands in its own copy and no other process's vDSO changes. */
static long patch(pid_t pid) {
  uint64_t base = 0;
  long rc = vdso_base(pid, &base);
  if (rc < 0) return rc;
  if (base == 0) return 0; /* no vDSO: every clock read is a system call, which the filter routes */
  int fd = open_proc(pid, "mem", O_RDWR);
  if (fd < 0) return fd;
  static uint8_t img[VDSO_MAX];
  long n = SC4(NR_pread64, fd, img, sizeof img, base);
  /* Reading stops at the vDSO's end (the next page is unmapped or the vvar, EIO or short). */
  if (n == -EIO) n = SC4(NR_pread64, fd, img, 8192, base);
  uint64_t off[3], cg_size = 0;
  rc = n < 0 ? n : find_symbols(img, (size_t)n, off, &cg_size);
  if (rc == 0 && cg_size < sizeof stub) rc = -ENOSPC;
  if (rc == 0) {
    uint8_t code[sizeof stub];
    memcpy(code, stub, sizeof stub);
    memcpy(code + STUB_OFF_SEC, &off_sec, 8);
    memcpy(code + STUB_OFF_NSEC, &off_nsec, 8);
    uint8_t jg[5], jt[5];
    put_jmp(jg, off[1], off[0] + STUB_GTOD);
    put_jmp(jt, off[2], off[0] + STUB_TIME);
    rc = write_all_at(fd, code, sizeof code, base + off[0]);
    if (rc == 0) rc = write_all_at(fd, jg, 5, base + off[1]);
    if (rc == 0) rc = write_all_at(fd, jt, 5, base + off[2]);
  }
  SC1(NR_close, fd);
  return rc;
}

/* One ptrace stop of a traced process (status from wait4): resumes it as the kernel alone
 * would have, after patching the vDSO at an exec stop. A process whose vDSO cannot be
 * patched is killed: it would read the host's clock while the policy says otherwise.
 * Returns 1 for an exec stop left stopped for TypeScript's verdict (policyFn), with the id
 * of the thread that called execve in *tid (after the exec the process has its leader's). */
int sl_vclock_stopped(pid_t pid, int status, int32_t *tid) {
  int sig = (status >> 8) & 0xff;
  int event = (status >> 16) & 0xff;
  if (event == PTRACE_EVENT_EXEC) {
    if (clock_on && patch(pid) < 0) {
      SC2(NR_kill, pid, SIGKILL);
      return 0;
    }
    if (execs_on) {
      unsigned long former = 0;
      if (SC4(NR_ptrace, PTRACE_GETEVENTMSG, pid, 0, &former) < 0) {
        SC2(NR_kill, pid, SIGKILL);
        return 0;
      }
      int k = 0;
      while (k < PENDING_MAX && pending[k] != 0) k++;
      if (k == PENDING_MAX) {
        SC2(NR_kill, pid, SIGKILL);
        return 0;
      }
      pending[k] = pid;
      *tid = (int32_t)former;
      return 1;
    }
    SC4(NR_ptrace, PTRACE_CONT, pid, 0, 0);
  } else if (event == PTRACE_EVENT_STOP) {
    /* A group stop reports its stop signal: the process stays stopped until SIGCONT
     * (PTRACE_LISTEN). A new process's first stop, or a stop ended by SIGCONT, reports
     * SIGTRAP: it goes on. */
    if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) SC4(NR_ptrace, PTRACE_LISTEN, pid, 0, 0);
    else SC4(NR_ptrace, PTRACE_CONT, pid, 0, 0);
  } else if (event != 0) {
    SC4(NR_ptrace, PTRACE_CONT, pid, 0, 0); /* fork, vfork, clone */
  } else {
    SC4(NR_ptrace, PTRACE_CONT, pid, 0, sig); /* a signal on its way: delivered unchanged */
  }
  return 0;
}

/* TypeScript's verdict on an exec SL_MSG_EXEC reported: the program runs, or dies before
 * its first instruction. Only a pid reported and not yet answered is acted on. */
void sl_vclock_verdict(pid_t pid, int go) {
  if (pid <= 0) return;
  int k = 0;
  while (k < PENDING_MAX && pending[k] != pid) k++;
  if (k == PENDING_MAX) return;
  pending[k] = 0;
  if (go == 1) SC4(NR_ptrace, PTRACE_CONT, pid, 0, 0);
  else SC2(NR_kill, pid, SIGKILL);
}

/* The command's process, at its SL_STEP_TRACE step: asks the launcher to trace it and
 * waits for the answer (0 or an errno), as the listener's hand-over does. write and read
 * are never trapped calls. */
long sl_vclock_request(int report, int ack) {
  struct sl_msg m = {SL_MSG_TRACE, 0, 0, 0};
  long rc = sl_write_all(report, &m, sizeof m);
  if (rc < 0) return rc;
  int32_t answer = 0;
  long n = SL_RETRY(SC3(NR_read, ack, &answer, sizeof answer));
  if (n != (long)sizeof answer) return n < 0 ? n : -EIO;
  return answer == 0 ? 0 : -answer;
}
