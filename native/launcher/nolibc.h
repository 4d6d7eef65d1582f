/* The launcher is freestanding: raw system calls, no C library. Measured on these VMs, a
 * glibc program spends about 0.4 ms in its start-up (CPU feature and cache detection
 * through CPUID, which traps to the hypervisor) before main runs; the launcher is exec'd
 * for every sandbox, so that cost would be paid on every spawn. Without libc it starts in
 * about 0.1 ms. Every wrapper returns the kernel's result: >= 0, or -errno. */
#ifndef SL_NOLIBC_H
#define SL_NOLIBC_H

#include <linux/types.h>
#include <stddef.h>
#include <stdint.h>

#if !defined(__x86_64__)
#error "the freestanding launcher supports x86_64 only for now"
#endif

typedef long ssize_t;
typedef int pid_t;

/* ---- system call numbers (x86_64) ---- */
#define NR_read 0
#define NR_write 1
#define NR_close 3
#define NR_lseek 8
#define NR_fstat 5
#define NR_mmap 9
#define NR_munmap 11
#define NR_rt_sigaction 13
#define NR_rt_sigprocmask 14
#define NR_ioctl 16
#define NR_pread64 17
#define NR_nanosleep 35
#define NR_getpid 39
#define NR_clone 56
#define NR_execve 59
#define NR_exit 60
#define NR_wait4 61
#define NR_kill 62
#define NR_fcntl 72
#define NR_chdir 80
#define NR_getppid 110
#define NR_setpgid 109
#define NR_capget 125
#define NR_capset 126
#define NR_personality 135
#define NR_prctl 157
#define NR_setpriority 141
#define NR_getpriority 140
#define PRIO_PROCESS_ 0
#define NR_sched_setaffinity 203
#define NR_getdents64 217
#define NR_exit_group 231
#define NR_openat 257
#define NR_ppoll 271
#define NR_signalfd4 289
#define NR_pipe2 293
#define NR_pidfd_getfd 438
#define NR_sendmsg 46
#define NR_recvmsg 47
#define NR_socketpair 53
#define NR_dup3 292
#define NR_pidfd_open 434
#define NR_perf_event_open 298
#define NR_prlimit64 302
#define NR_seccomp 317
#define NR_close_range 436
#define NR_openat2 437
#define NR_landlock_create_ruleset 444
#define NR_landlock_add_rule 445
#define NR_landlock_restrict_self 446

/* ---- constants ---- */
#define AT_FDCWD (-100)
#define O_RDONLY 00
#define O_WRONLY 01
#define O_DIRECTORY 0200000
#define O_CLOEXEC 02000000
#define O_PATH 010000000
/* openat2's struct open_how and the resolve flag the launcher uses. */
struct sl_open_how {
  uint64_t flags, mode, resolve;
};
#define RESOLVE_NO_SYMLINKS 0x04
#define F_SETFD 2
#define FD_CLOEXEC 1
#define PROT_READ 1
#define PROT_WRITE 2
#define MAP_PRIVATE 2
#define MAP_ANONYMOUS 0x20
#define SIGHUP 1
#define SIGINT 2
#define SIGQUIT 3
#define SIGKILL 9
#define SIGPIPE 13
#define SIGTERM 15
#define SIGCHLD 17
#define SIGCONT 18
#define SIGSTOP 19
#define SIGTSTP 20
#define SIGTTIN 21
#define SIGTTOU 22
#define CLONE_PIDFD 0x00001000
#define SL_NSIG 64
#define SIG_DFL 0UL
#define SIG_IGN 1UL
#define SIG_BLOCK 0
#define SIG_SETMASK 2
#define SFD_CLOEXEC O_CLOEXEC
#define WNOHANG 1
#define WALL 0x40000000
#define POLLIN 0x001
#define POLLERR 0x008
#define POLLHUP 0x010
#define PR_SET_PDEATHSIG 1
#define PR_SET_DUMPABLE 4
#define PR_SET_NO_NEW_PRIVS 38
#define PR_SET_CHILD_SUBREAPER 36
#define PR_SET_THP_DISABLE 41
#define PR_CAPBSET_DROP 24
#define PR_SET_SECUREBITS 28
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#define RLIMIT_NOFILE 7
#define SEEK_SET 0
#define SECCOMP_SET_MODE_FILTER 1
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#define EPERM 1
#define ENOENT 2
#define ESRCH 3
#define EINTR 4
#define ECHILD 10
#define EIO 5
#define ENOMEM 12
#define EINVAL 22
#define ENFILE 23
#define EMFILE 24
#define EMSGSIZE 90
#define EBADMSG 74
#define ENAMETOOLONG 36
#define ECONNRESET 104
#define E2BIG 7
#define EBUSY 16
#define EOPNOTSUPP 95

struct sl_sigaction {
  unsigned long handler;
  unsigned long flags;
  unsigned long restorer;
  uint64_t mask;
};

struct sl_pollfd {
  int fd;
  short events;
  short revents;
};

struct sl_timespec {
  long sec;
  long nsec;
};

/* struct stat of x86_64: only st_mode (offset 24) and st_size (offset 48) are read. */
struct sl_stat {
  unsigned char pad0[24];
  uint32_t mode;
  unsigned char pad_mode[20];
  long size;
  unsigned char pad1[144 - 56];
};
#define SL_S_IFMT 0170000
#define SL_S_IFSOCK 0140000

struct sl_signalfd_siginfo {
  uint32_t signo;
  unsigned char rest[124];
};

struct sl_sock_filter {
  uint16_t code;
  uint8_t jt;
  uint8_t jf;
  uint32_t k;
};

struct sl_sock_fprog {
  unsigned short len;
  struct sl_sock_filter *filter;
};

/* ---- the system call instruction ---- */
static inline long sl_syscall6(long n, long a, long b, long c, long d, long e, long f) {
  long ret;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}
#define SC0(n) sl_syscall6((n), 0, 0, 0, 0, 0, 0)
#define SC1(n, a) sl_syscall6((n), (long)(a), 0, 0, 0, 0, 0)
#define SC2(n, a, b) sl_syscall6((n), (long)(a), (long)(b), 0, 0, 0, 0)
#define SC3(n, a, b, c) sl_syscall6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define SC4(n, a, b, c, d) sl_syscall6((n), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define SC5(n, a, b, c, d, e) sl_syscall6((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)

/* Retries a call interrupted by a signal. */
#define SL_RETRY(expr)          \
  ({                            \
    long r_;                    \
    do {                        \
      r_ = (expr);              \
    } while (r_ == -EINTR);     \
    r_;                         \
  })

static inline __attribute__((noreturn)) void sl_exit_group(int code) {
  for (;;) SC1(NR_exit_group, code);
}

/* ---- the few memory and string helpers; the compiler may also emit calls to these ---- */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t sl_strlen(const char *s);
/* argv[0] as the launcher was started with ("" without one). */
extern const char *sl_argv0;
const void *sl_memchr(const void *p, int c, size_t n);

/* mmap-backed allocation: the launcher allocates a handful of blocks in its life. */
void *sl_alloc(size_t n);
void sl_free(void *p, size_t n);

/* Formats "prefix<number>suffix" into buf (for /proc paths). */
void sl_fmt_path(char *buf, const char *prefix, long number, const char *suffix);
long sl_parse_long(const char *s, const char **end);
/* Sleeps us microseconds (the rest of it when a signal interrupts). */
void sl_sleep_us(long us);

#endif
