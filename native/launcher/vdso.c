/* timeStart's vDSO rewrite (SPEC 2.1), for the launcher's exec stop (vclock.c): finds the
 * clock functions in the stopped program's vDSO and replaces them with a stub that reads
 * CLOCK_MONOTONIC and adds the sandbox's offset; other clocks keep the vDSO's own code
 * when its entry can be moved aside, else become a system call. */
#include "launcher.h"

#define NR_pwrite64 18
#define AT_SYSINFO_EHDR 33
#define O_RDWR 02
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

/* Finds the three clock functions in the image's dynamic symbols: their offsets and sizes. */
static long find_symbols(const uint8_t *img, size_t size, uint64_t off[3], uint64_t sizes[3]) {
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
        sizes[k] = sym.size;
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

/* The frame set-up at a function's start that can run elsewhere unchanged: pushes,
 * mov %rsp,%rbp, and/sub on %rsp. None of it can be a branch target inside the function
 * (running it twice would break the frame). Returns how many bytes of whole such
 * instructions cover at least 5 (a jmp rel32), or 0 when the start is anything else. */
static size_t movable_prologue(const uint8_t *p, size_t max) {
  size_t k = 0;
  while (k < 5) {
    size_t len = 0;
    if (k >= max) return 0;
    if (p[k] >= 0x50 && p[k] <= 0x57) len = 1;                                        /* push %r */
    else if (k + 2 <= max && p[k] == 0x41 && p[k + 1] >= 0x50 && p[k + 1] <= 0x57) len = 2; /* push %r8-15 */
    else if (k + 3 <= max && p[k] == 0x48 && p[k + 1] == 0x89 && p[k + 2] == 0xe5) len = 3; /* mov %rsp,%rbp */
    else if (k + 4 <= max && p[k] == 0x48 && p[k + 1] == 0x83 && (p[k + 2] == 0xe4 || p[k + 2] == 0xec)) len = 4; /* and/sub $i8,%rsp */
    else if (k + 7 <= max && p[k] == 0x48 && p[k + 1] == 0x81 && p[k + 2] == 0xec) len = 7; /* sub $i32,%rsp */
    else return 0;
    k += len;
  }
  return k;
}

/* A jcc rel32 (0f 8x) at `from` to `to`. */
static void put_jcc(uint8_t out[6], uint8_t cc, uint64_t from, uint64_t to) {
  int32_t rel = (int32_t)((int64_t)to - (int64_t)(from + 6));
  out[0] = 0x0f;
  out[1] = cc;
  memcpy(out + 2, &rel, 4);
}

#define JE 0x84
/* In the stub's clock_gettime: after the system call succeeded, the code that adds the
 * offset to the timespec at %rsi and returns 0. */
#define STUB_ADD_OFFSET 0x35
/* The fast layout in gettimeofday's space: a jmp to the stub's gettimeofday at its entry,
 * the stub at +8, then clock_gettime's dispatch: every clock but the three wall clocks
 * runs the vDSO's own clock_gettime (its moved prologue, then a jmp back); a wall clock
 * calls that same code for CLOCK_MONOTONIC and adds the offset with the stub's code:
 *   push %rsi; mov $1,%edi; call orig; pop %rsi; test %eax,%eax; jnz 1f
 *   jmp stub+STUB_ADD_OFFSET
 *   1: ret
 * No system call: a wall-clock read costs what a monotonic one does. */
#define FAST_STUB 8
#define FAST_DISPATCH (FAST_STUB + sizeof stub)
#define DISPATCH_IDS 3
#define WALL_BYTES 22
#define FAST_BYTES(k) (FAST_DISPATCH + DISPATCH_IDS * 9 + (k) + 5 + WALL_BYTES)

/* Builds the fast layout for gettimeofday's space at image offset g, clock_gettime at
 * image offset cg with a movable prologue of k bytes. Returns its length. */
static size_t fast_layout(uint8_t *out, const uint8_t code[sizeof stub], uint64_t g, uint64_t cg, const uint8_t *prologue, size_t k) {
  static const uint8_t ids[DISPATCH_IDS] = {0, 5, 11}; /* REALTIME, REALTIME_COARSE, TAI */
  memset(out, 0xcc, FAST_STUB);
  put_jmp(out, g, g + FAST_STUB + STUB_GTOD);
  memcpy(out + FAST_STUB, code, sizeof stub);
  size_t orig = FAST_DISPATCH + DISPATCH_IDS * 9;
  size_t wall = orig + k + 5;
  size_t at = FAST_DISPATCH;
  for (int i = 0; i < DISPATCH_IDS; i++) {
    out[at] = 0x83; /* cmp $id,%edi */
    out[at + 1] = 0xff;
    out[at + 2] = ids[i];
    put_jcc(out + at + 3, JE, g + at + 3, g + wall);
    at += 9;
  }
  memcpy(out + orig, prologue, k);
  put_jmp(out + orig + k, g + orig + k, cg + k);
  at = wall;
  out[at++] = 0x56; /* push %rsi */
  out[at++] = 0xbf; /* mov $1,%edi (CLOCK_MONOTONIC) */
  out[at++] = 1;
  out[at++] = 0;
  out[at++] = 0;
  out[at++] = 0;
  int32_t rel = (int32_t)((int64_t)(g + orig) - (int64_t)(g + at + 5));
  out[at++] = 0xe8; /* call orig */
  memcpy(out + at, &rel, 4);
  at += 4;
  out[at++] = 0x5e; /* pop %rsi */
  out[at++] = 0x85; /* test %eax,%eax */
  out[at++] = 0xc0;
  out[at++] = 0x75; /* jnz +5: the error as it came */
  out[at++] = 5;
  put_jmp(out + at, g + at, g + FAST_STUB + STUB_ADD_OFFSET);
  at += 5;
  out[at++] = 0xc3; /* ret */
  return at;
}

/* Rewrites the stopped process's vDSO. /proc/<pid>/mem writes with FOLL_FORCE, as a
 * debugger's breakpoint does: the vDSO's text pages are private to the process, so the
 * write lands in its own copy and no other process's vDSO changes. */
long sl_vdso_patch(pid_t pid, int64_t off_sec, int64_t off_nsec) {
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
  uint64_t off[3], sizes[3] = {0, 0, 0};
  rc = n < 0 ? n : find_symbols(img, (size_t)n, off, sizes);
  if (rc == 0) {
    uint8_t code[sizeof stub];
    memcpy(code, stub, sizeof stub);
    memcpy(code + STUB_OFF_SEC, &off_sec, 8);
    memcpy(code + STUB_OFF_NSEC, &off_nsec, 8);
    uint64_t cg = off[0], g = off[1], t = off[2];
    size_t k = sizes[0] <= (uint64_t)n - cg ? movable_prologue(img + cg, (size_t)sizes[0]) : 0;
    uint8_t jc[5], jt[5];
    static uint8_t fast[FAST_BYTES(16)];
    /* The whole fast layout must lie in gettimeofday's space and inside the image read. */
    if (k > 0 && k <= 16 && sizes[1] >= FAST_BYTES(k) && g + FAST_BYTES(k) <= (uint64_t)n) {
      /* Fast: every clock_gettime runs the vDSO's own code (no system call). */
      size_t len = fast_layout(fast, code, g, cg, img + cg, k);
      put_jmp(jc, cg, g + FAST_DISPATCH);
      put_jmp(jt, t, g + FAST_STUB + STUB_TIME);
      rc = write_all_at(fd, fast, len, base + g);
      if (rc == 0) rc = write_all_at(fd, jc, 5, base + cg);
      if (rc == 0) rc = write_all_at(fd, jt, 5, base + t);
    } else if (sizes[0] >= sizeof stub && cg + sizeof stub <= (uint64_t)n) {
      /* Any other layout: the stub replaces clock_gettime whole (other clocks become a
       * system call), gettimeofday and time jump into it. */
      uint8_t jg[5];
      put_jmp(jg, g, cg + STUB_GTOD);
      put_jmp(jt, t, cg + STUB_TIME);
      rc = write_all_at(fd, code, sizeof code, base + cg);
      if (rc == 0) rc = write_all_at(fd, jg, 5, base + g);
      if (rc == 0) rc = write_all_at(fd, jt, 5, base + t);
    } else {
      rc = -ENOSPC;
    }
  }
  SC1(NR_close, fd);
  return rc;
}
