/* What the fork zygote does before node starts (src/fork/zygote.ts loads the addon with
 * LD_PRELOAD): the layout that keeps each clone's page tables and page faults few. Runs
 * only in a process started with SANDLOCK_ZYGOTE_PRELOAD; a no-op wherever else the addon is loaded. */

#define _GNU_SOURCE
#include <link.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define SL_HUGE (2UL << 20)

/* Where V8 asks for its heap pages: a random hint below 2^46 (it truncates its hints to 46
 * bits on x86_64). The kernel honours a hint whose range is free, so every 256 KiB heap
 * page lands in a 2 MiB, 1 GiB and 512 GiB region of its own, and a fork copies a page
 * table page at each of the three levels for each heap page (about 12 KiB per page, 200
 * KiB per clone measured). Reserving that range (PROT_NONE, no memory, no page tables)
 * before V8 starts makes every hint refused, and the kernel places the heap top-down next
 * to the libraries, in a few regions. */
#define SL_HINT_LOW (1UL << 32)  /* the main program and its brk heap stay below */
#define SL_HINT_HIGH (1UL << 46) /* V8's hints are below this */

/* The main program's largest executable segment (node's machine code). */
struct sl_range {
  uintptr_t start, end;
};

static int sl_main_text(struct dl_phdr_info *info, size_t size, void *data) {
  struct sl_range *r = data;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || (ph->p_flags & PF_X) == 0) continue;
    uintptr_t a = info->dlpi_addr + ph->p_vaddr;
    if (ph->p_memsz > r->end - r->start) r->start = a, r->end = a + ph->p_memsz;
  }
  return 1; /* the first object is the main program: stop there */
}

/* Node's machine code into anonymous huge pages (what node's --use-largepages=on does,
 * which needs /proc/self/maps, out of the zygote's reach). fork() copies no page table of
 * a file mapping: every clone faulted node's code in from the page cache again, about 90
 * faults and 10 page-table pages each. An anonymous mapping is copied at fork, here one
 * entry per 2 MiB. The 2 MiB-aligned middle of the segment is copied into a fresh aligned
 * mapping (MADV_HUGEPAGE), made read+exec, and moved over the original with mremap, which
 * replaces it in one step: no code is ever missing. Costs the zygote the segment's size
 * (24 MiB for node 20) in memory, once. On any failure the code stays where it was. */
static void sl_text_to_huge_pages(void) {
  struct sl_range r = {0, 0};
  dl_iterate_phdr(sl_main_text, &r);
  uintptr_t a = (r.start + SL_HUGE - 1) & ~(SL_HUGE - 1), b = r.end & ~(SL_HUGE - 1);
  if (b <= a) return;
  size_t len = b - a;
  char *raw = mmap(NULL, len + SL_HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return;
  char *tmp = (char *)(((uintptr_t)raw + SL_HUGE - 1) & ~(SL_HUGE - 1));
  if (tmp > raw) munmap(raw, (size_t)(tmp - raw));
  munmap(tmp + len, (size_t)(raw + len + SL_HUGE - (tmp + len)));
  if (madvise(tmp, len, MADV_HUGEPAGE) != 0) {
    munmap(tmp, len);
    return;
  }
  memcpy(tmp, (const void *)a, len);
  if (mprotect(tmp, len, PROT_READ | PROT_EXEC) != 0 || mremap(tmp, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)a) == MAP_FAILED) munmap(tmp, len);
}

/* SANDLOCK_ZYGOTE_PRELOAD is a list of words: "bind-now" (the parent set LD_BIND_NOW for
 * this start, the caller had not: the loader has resolved every symbol here, once, instead
 * of in every clone on its first call through each PLT entry, about 20 faults and a walk
 * of node's symbol table per clone; the loader read it before any constructor ran), and
 * "huge-text" (sl_text_to_huge_pages). The variables we set and our entry in LD_PRELOAD are
 * removed, so nothing the zygote starts inherits them. */
__attribute__((constructor)) static void sl_zygote_preload(void) {
  const char *mode = getenv("SANDLOCK_ZYGOTE_PRELOAD");
  if (mode == NULL) return;
  int bind_now = strstr(mode, "bind-now") != NULL, huge_text = strstr(mode, "huge-text") != NULL;
  if (bind_now) unsetenv("LD_BIND_NOW");
  unsetenv("SANDLOCK_ZYGOTE_PRELOAD");
  const char *pre = getenv("LD_PRELOAD");
  if (pre != NULL) {
    /* ours is the first entry; keep whatever the caller had after it */
    const char *rest = pre + strcspn(pre, " :");
    rest += strspn(rest, " :");
    if (*rest != '\0') setenv("LD_PRELOAD", rest, 1);
    else unsetenv("LD_PRELOAD");
  }
  /* MAP_FIXED_NOREPLACE: when something already lives there, reserve nothing (the heap
   * is then placed as before: more page tables per clone, nothing else changes) */
  (void)mmap((void *)SL_HINT_LOW, SL_HINT_HIGH - SL_HINT_LOW, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
  if (huge_text) sl_text_to_huge_pages();
}
