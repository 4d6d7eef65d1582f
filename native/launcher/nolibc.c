/* Program entry and the handful of library routines the freestanding launcher needs. */
#include "nolibc.h"

int main(void);

const char *sl_argv0 = "";

/* The kernel enters here with the stack holding argc, argv and envp; the launcher reads
 * only argv[0] (its role: broker.c), so _start passes the stack's top to sl_start, aligns
 * the stack and calls it. */
__asm__(
    ".text\n"
    ".global _start\n"
    "_start:\n"
    "  xor %rbp, %rbp\n"
    "  mov %rsp, %rdi\n"
    "  and $-16, %rsp\n"
    "  call sl_start\n"
    "  hlt\n");

__attribute__((used, noreturn)) void sl_start(const long *sp) {
  if (sp[0] > 0 && sp[1] != 0) sl_argv0 = (const char *)sp[1];
  sl_exit_group(main());
}

void *memcpy(void *dst, const void *src, size_t n) {
  unsigned char *d = dst;
  const unsigned char *s = src;
  while (n--) *d++ = *s++;
  return dst;
}

void *memmove(void *dst, const void *src, size_t n) {
  unsigned char *d = dst;
  const unsigned char *s = src;
  if (d < s) {
    while (n--) *d++ = *s++;
  } else {
    while (n--) d[n] = s[n];
  }
  return dst;
}

void *memset(void *dst, int c, size_t n) {
  unsigned char *d = dst;
  while (n--) *d++ = (unsigned char)c;
  return dst;
}

int memcmp(const void *a, const void *b, size_t n) {
  const unsigned char *x = a, *y = b;
  for (; n; n--, x++, y++) {
    if (*x != *y) return *x - *y;
  }
  return 0;
}

size_t sl_strlen(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

const void *sl_memchr(const void *p, int c, size_t n) {
  const unsigned char *s = p;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == (unsigned char)c) return s + i;
  }
  return NULL;
}

void *sl_alloc(size_t n) {
  long p = SC5(NR_mmap, 0, n ? n : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
  return p < 0 && p > -4096 ? NULL : (void *)p;
}

void sl_free(void *p, size_t n) {
  if (p != NULL) SC2(NR_munmap, p, n ? n : 1);
}

void sl_fmt_path(char *buf, const char *prefix, long number, const char *suffix) {
  char digits[24];
  int nd = 0;
  unsigned long v = number < 0 ? 0 : (unsigned long)number;
  do {
    digits[nd++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (*prefix) *buf++ = *prefix++;
  while (nd) *buf++ = digits[--nd];
  while (*suffix) *buf++ = *suffix++;
  *buf = '\0';
}

long sl_parse_long(const char *s, const char **end) {
  long v = 0;
  int neg = 0;
  if (*s == '-') {
    neg = 1;
    s++;
  }
  while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0');
  if (end) *end = s;
  return neg ? -v : v;
}

void sl_sleep_us(long us) {
  struct sl_timespec ts = {us / 1000000, (us % 1000000) * 1000};
  SL_RETRY(SC2(NR_nanosleep, &ts, &ts));
}
