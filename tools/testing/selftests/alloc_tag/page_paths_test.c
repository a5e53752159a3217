// SPDX-License-Identifier: GPL-2.0
/*
 * Every path a page's tag reference takes on a real mm configuration, with
 * exact figures in /proc/allocinfo: huge page faults, splits, truncation,
 * migration between nodes, compaction, hugetlb pools, swap, KSM and memcg.
 * Each test compares snapshots of every row taken before and after what it
 * does; it finds its rows by how much they grew, never by their names, but
 * for the migration targets, whose tags are known call sites.
 *
 * Upstream's semantics, which ours follow in page_ext and compressed mode:
 *
 * - an allocation of 2^order pages counts its bytes and one call;
 * - a split of a folio into folios of order n keeps the bytes and counts
 *   each new folio as one more call of the same tag (pgalloc_tag_split()),
 *   so freeing the pieces one by one brings the row back to zero;
 * - migration swaps the tags of the old and the new folio
 *   (pgalloc_tag_swap(), upstream since 6.13): the data's row keeps its
 *   bytes and calls, and the target's allocation site is given back its
 *   count when the old folio is freed under its tag. 6.12's C copies the
 *   tag instead (pgalloc_tag_copy()): the new folio is never counted, so
 *   the data's row loses the migrated pages' bytes and calls at once and
 *   goes negative when they are freed;
 * - hugetlb pool pages are counted where the pool allocated them, not
 *   where a mapping faults them in;
 * - swapping out frees the pages (the row gives them back); swapping in
 *   allocates new ones at the swap-in site;
 * - KSM keeps one of the merged pages and frees the others;
 * - memcg charges change no row.
 *
 * Each test skips what the kernel lacks (THP, a second NUMA node, KSM,
 * hugetlb, swap, memcg): on tinyconfig most of them skip. The vmemmap
 * optimisation of hugetlb runs only with $ALLOC_TAG_HVO=1 (see there).
 */
#define _GNU_SOURCE
#include <linux/mempolicy.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/wait.h>
#include <time.h>

#include "../kselftest_harness.h"
#include "alloc_tag_util.h"

#define NPAGES		256
#define NTHP		4
/* The most pages a test moves: its huge pages, in small pages. */
#define MAX_PAGES	(NTHP * 512)
/* Fewer than KSM's max_page_sharing (256) share one page. */
#define KSM_PAGES	200
/* fill() faults in this many small pages on one CPU, then on the next. */
#define FILL_STRIDE	8
#define THP_SYSFS	"/sys/kernel/mm/transparent_hugepage/"
#define SPLIT_DEBUGFS	"/sys/kernel/debug/split_huge_pages"
#define NODES_ONLINE	"/sys/devices/system/node/online"
#define KSM_SYSFS	"/sys/kernel/mm/ksm/"
#define NR_HUGEPAGES	"/proc/sys/vm/nr_hugepages"
#define HUGETLB_HVO	"/proc/sys/vm/hugetlb_optimize_vmemmap"
#define ZRAM		"/sys/block/zram0/"
#define ZRAM_DEV	"/dev/zram0"
#define CGROUP		"/sys/fs/cgroup"
#define CGROUP_TEST	CGROUP "/alloc_tag_test"

static char why[2048];

/* What a test changed in the system, for the teardown to put back. */
struct saved {
	char path[128];
	char value[64];
};

FIXTURE(paths) {
	long page;
	size_t hpage;
	char *map;
	size_t map_len;
	struct at_snap start, a, b, c, end;
	struct saved saved[8];
	int nsaved;
	/* move_pages(2)'s arrays, allocated before anything is measured. */
	void **pages;
	int *nodes, *status;
	bool swap_on, zram_set, memcg, tmpfs;
	char tmpdir[64], file[96];
	/* The CPUs the test may run on, and how many. */
	cpu_set_t cpus;
	int ncpus;
};

/* The type of the fixture's data, for the helpers that take it. */
#define PATHS_DATA	FIXTURE_DATA(paths)

/* Remembers @path's value, then writes @val to it. */
static int save_and_write(PATHS_DATA *self, const char *path,
			  const char *val)
{
	struct saved *s = &self->saved[self->nsaved];
	char buf[64];
	char *p;
	FILE *f;

	if (self->nsaved == (int)(sizeof(self->saved) / sizeof(*s)))
		return -ENOSPC;
	f = fopen(path, "r");
	if (!f)
		return -errno;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	/* "always [madvise] never": the bracketed choice. */
	p = strchr(buf, '[');
	if (p) {
		memmove(buf, p + 1, strlen(p));
		buf[strcspn(buf, "]")] = '\0';
	}
	snprintf(s->path, sizeof(s->path), "%s", path);
	snprintf(s->value, sizeof(s->value), "%s", buf);
	self->nsaved++;
	return at_write_file(path, val);
}

FIXTURE_SETUP(paths)
{
	long long h;

	self->page = sysconf(_SC_PAGESIZE);
	self->map = MAP_FAILED;
	ASSERT_EQ(0, sched_getaffinity(0, sizeof(self->cpus), &self->cpus));
	self->ncpus = CPU_COUNT(&self->cpus);
	h = at_read_ll(THP_SYSFS "hpage_pmd_size");
	self->hpage = h > 0 ? h : 2 << 20;
	if (at_sysctl() != 1)
		SKIP(return, "memory allocation profiling is off");
	ASSERT_EQ(0, at_snap_prepare(&self->start));
	ASSERT_EQ(0, at_snap_prepare(&self->a));
	ASSERT_EQ(0, at_snap_prepare(&self->b));
	ASSERT_EQ(0, at_snap_prepare(&self->c));
	ASSERT_EQ(0, at_snap_prepare(&self->end));
	self->pages = calloc(MAX_PAGES, sizeof(*self->pages));
	self->nodes = calloc(MAX_PAGES, sizeof(*self->nodes));
	self->status = calloc(MAX_PAGES, sizeof(*self->status));
	ASSERT_TRUE(self->pages && self->nodes && self->status);
	at_touch_stack();
	/* Nothing of this process is shared with the harness any more. */
	ASSERT_EQ(0, at_prefault_self());
}

FIXTURE_TEARDOWN(paths)
{
	int i;

	if (self->map != MAP_FAILED)
		munmap(self->map, self->map_len);
	if (self->file[0])
		unlink(self->file);
	if (self->tmpfs)
		umount(self->tmpdir);
	if (self->tmpdir[0])
		rmdir(self->tmpdir);
	if (self->swap_on)
		swapoff(ZRAM_DEV);
	if (self->zram_set)
		at_write_file(ZRAM "reset", "1");
	if (self->memcg) {
		char pid[16];

		snprintf(pid, sizeof(pid), "%d", getpid());
		at_write_file(CGROUP "/cgroup.procs", pid);
		rmdir(CGROUP_TEST);
	}
	for (i = self->nsaved - 1; i >= 0; i--)
		at_write_file(self->saved[i].path, self->saved[i].value);
}

/*
 * Drains every CPU's batches of pages on their way to the LRU lists
 * (move_pages() does, before it moves anything): a batch holds a reference
 * to each of its pages, so a page freed (munmap, MADV_DONTNEED, a split)
 * while in another CPU's batch is freed only when that batch drains, and
 * reclaim and compaction take only pages on the LRU lists (MADV_PAGEOUT
 * and compaction_alloc() drain this CPU's batch alone). Moves one page of
 * the test's own to node 0, a page it does not measure. Without
 * CONFIG_MIGRATION nothing drains this way; the tests that would need it
 * skip there.
 */
static void drain_page_batches(PATHS_DATA *self)
{
	int node = 0;

	self->pages[0] = self->nodes;
	syscall(SYS_move_pages, 0, 1, self->pages, &node, self->status, MPOL_MF_MOVE);
}

/* A snapshot of every row once the page batches are drained. */
static int snap(PATHS_DATA *self, struct at_snap *s)
{
	drain_page_batches(self);
	return at_snap_take(s);
}

/*
 * Takes the start snapshot: twice, the first read may grow the heap. Pages
 * of a process that exited may be in a batch too, counted at the very row
 * of anonymous faults a test watches.
 */
static int begin(PATHS_DATA *self)
{
	int ret = snap(self, &self->start);

	return ret ? ret : snap(self, &self->start);
}

/* The one row that grew from @a to @b by @bytes in @calls, or NULL (why). */
static const struct at_row *grew(const struct at_snap *a, const struct at_snap *b,
				 long long bytes, long long calls)
{
	return at_snap_grew_by(a, b, bytes, calls, why, sizeof(why));
}

/* @r grew from @a to @b by exactly @bytes in @calls; else false (why). */
static bool grew_exactly(const struct at_snap *a, const struct at_snap *b,
			 const struct at_row *r, long long bytes, long long calls)
{
	long long gb, gc;

	at_snap_growth(a, b, r, &gb, &gc);
	snprintf(why, sizeof(why),
		 "%s:%d func:%s grew by %lld bytes in %lld calls, not %lld in %lld",
		 r->file, r->line, r->func, gb, gc, bytes, calls);
	return gb == bytes && gc == calls;
}

/*
 * Unmaps the test's mapping; then the rows @r and @also (if any) are back
 * where they started, and no row is negative.
 */
static void unmap_and_check(PATHS_DATA *self,
			    struct __test_metadata *_metadata,
			    const struct at_row *r, const struct at_row *also)
{
	ASSERT_EQ(0, munmap(self->map, self->map_len));
	self->map = MAP_FAILED;
	ASSERT_EQ(0, snap(self, &self->end));
	EXPECT_TRUE(grew_exactly(&self->start, &self->end, r, 0, 0))
		TH_LOG("after munmap: %s", why);
	if (also)
		EXPECT_TRUE(grew_exactly(&self->start, &self->end, also, 0, 0))
			TH_LOG("after munmap: %s", why);
	EXPECT_TRUE(at_snap_none_negative(&self->end, why, sizeof(why))) TH_LOG("%s", why);
}

/*
 * MADV_NOHUGEPAGE on [@p, @p + @len): 0, or -1 (errno). Without THP
 * (EINVAL: the kernel has no such advice) every page is small anyway.
 */
static int no_huge_pages(void *p, size_t len)
{
	if (!madvise(p, len, MADV_NOHUGEPAGE))
		return 0;
	return errno == EINVAL && access(THP_SYSFS "enabled", F_OK) ? 0 : -1;
}

/* An anonymous private mapping of @pages small pages, not yet faulted in. */
static char *map_small(PATHS_DATA *self, long pages)
{
	self->map_len = pages * self->page;
	self->map = mmap(NULL, self->map_len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (self->map == MAP_FAILED)
		return NULL;
	/* Small pages only, and never merged with another mapping. */
	if (no_huge_pages(self->map, self->map_len))
		return NULL;
	return self->map;
}

/* The CPU after @cpu in @set, wrapping around; the first for -1. */
static int next_cpu(const cpu_set_t *set, int cpu)
{
	int i;

	for (i = 1; i <= CPU_SETSIZE; i++)
		if (CPU_ISSET((cpu + i) % CPU_SETSIZE, set))
			return (cpu + i) % CPU_SETSIZE;
	return 0;
}

/*
 * Writes a different byte pattern to each page (no page is zero or alike),
 * FILL_STRIDE pages on each CPU of the test's in turn. A small page
 * faulted in waits in its CPU's batch on the way to the LRU lists, holding
 * a reference: what the test measures must hold when those batches are
 * other CPUs' ones, as they are whenever the scheduler moves the test, so
 * it makes them so every time.
 */
static void fill(PATHS_DATA *self, char *p, long pages)
{
	cpu_set_t one;
	int cpu = -1;
	long i;

	for (i = 0; i < pages; i++) {
		if (self->ncpus > 1 && i % FILL_STRIDE == 0) {
			cpu = next_cpu(&self->cpus, cpu);
			CPU_ZERO(&one);
			CPU_SET(cpu, &one);
			sched_setaffinity(0, sizeof(one), &one);
		}
		memset(p + i * self->page, (int)(i % 251) + 1, self->page);
	}
	if (self->ncpus > 1)
		sched_setaffinity(0, sizeof(self->cpus), &self->cpus);
}

/*
 * THP is built in; if it is off (the kernel's default below 512 MiB of
 * memory), it is set to madvise for the test: its mappings ask for huge
 * pages.
 */
static bool thp_usable(PATHS_DATA *self)
{
	char buf[128] = "";
	FILE *f = fopen(THP_SYSFS "enabled", "r");

	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return !strstr(buf, "[never]") ||
	       !save_and_write(self, THP_SYSFS "enabled", "madvise");
}

/* An anonymous mapping of @n huge pages, aligned, with MADV_HUGEPAGE. */
static char *map_huge(PATHS_DATA *self, int n)
{
	size_t len = n * self->hpage;
	char *p = mmap(NULL, len + self->hpage, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *aligned;

	if (p == MAP_FAILED)
		return NULL;
	aligned = (char *)(((unsigned long)p + self->hpage - 1) & ~(self->hpage - 1));
	if (aligned > p)
		munmap(p, aligned - p);
	munmap(aligned + len, p + self->hpage - aligned);
	self->map = aligned;
	self->map_len = len;
	if (madvise(aligned, len, MADV_HUGEPAGE))
		return NULL;
	return aligned;
}

/* Huge pages mapped in [@p, @p + @len) by this process, from smaps. */
static long long anon_huge_kb(const char *p, size_t len)
{
	char line[256];
	unsigned long lo, hi;
	long long kb = 0, v;
	bool in = false;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
			in = lo < (unsigned long)p + len && hi > (unsigned long)p;
			continue;
		}
		if (in && sscanf(line, "AnonHugePages: %lld kB", &v) == 1)
			kb += v;
	}
	fclose(f);
	return kb;
}

/* Asks debugfs to split the huge pages of [@p, @p + @len) to @order. */
static int split_range(const char *p, size_t len, int order)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "%d,0x%lx,0x%lx,%d", getpid(),
		 (unsigned long)p, (unsigned long)p + len, order);
	return at_write_file(SPLIT_DEBUGFS, cmd);
}

/* Faults in @n huge pages and checks they are: the row of their fault. */
static const struct at_row *fault_huge(PATHS_DATA *self, char *p, int n)
{
	long long kb;

	fill(self, p, n * self->hpage / self->page);
	kb = anon_huge_kb(p, n * self->hpage);
	if (snap(self, &self->a))
		return NULL;
	if (kb != (long long)(n * self->hpage >> 10)) {
		snprintf(why, sizeof(why), "%lld kB of %zu kB faulted in as huge pages",
			 kb, n * self->hpage >> 10);
		return NULL;
	}
	return grew(&self->start, &self->a, n * self->hpage, n);
}

/*
 * A THP fault counts the huge page once: its row grows by exactly the
 * mapped size in one call per huge page, and munmap gives it all back.
 */
TEST_F_TIMEOUT(paths, thp_fault, 120)
{
	const struct at_row *r;
	char *p;

	if (!thp_usable(self))
		SKIP(return, "no transparent huge pages");
	p = map_huge(self, NTHP);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, begin(self));
	r = fault_huge(self, p, NTHP);
	ASSERT_NE(NULL, r) TH_LOG("no row of the %d huge pages: %s", NTHP, why);

	unmap_and_check(self, _metadata, r, NULL);
}

/*
 * Splitting mapped huge pages (debugfs split_huge_pages) to @order keeps
 * their bytes and counts every piece as a call; munmap frees each piece.
 */
static void split_mapped(PATHS_DATA *self,
			 struct __test_metadata *_metadata, int order)
{
	long long pieces = NTHP * (self->hpage / self->page >> order);
	const struct at_row *r;
	char *p;
	int ret;

	if (!thp_usable(self))
		SKIP(return, "no transparent huge pages");
	if (access(SPLIT_DEBUGFS, W_OK))
		SKIP(return, "no %s", SPLIT_DEBUGFS);
	p = map_huge(self, NTHP);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, begin(self));
	r = fault_huge(self, p, NTHP);
	ASSERT_NE(NULL, r) TH_LOG("no row of the %d huge pages: %s", NTHP, why);

	ret = split_range(p, self->map_len, order);
	ASSERT_EQ(0, ret) TH_LOG("writing %s: %s", SPLIT_DEBUGFS, strerror(-ret));
	ASSERT_EQ(0, anon_huge_kb(p, self->map_len)) TH_LOG("not split");
	ASSERT_EQ(0, snap(self, &self->b));
	EXPECT_TRUE(grew_exactly(&self->start, &self->b, r,
				 NTHP * self->hpage, pieces)) TH_LOG("after the split: %s", why);

	unmap_and_check(self, _metadata, r, NULL);
}

TEST_F_TIMEOUT(paths, thp_split, 120)
{
	split_mapped(self, _metadata, 0);
}

/* Anonymous folios may be split to any order but 1. */
TEST_F_TIMEOUT(paths, thp_split_order2, 120)
{
	split_mapped(self, _metadata, 2);
}

/*
 * MADV_DONTNEED of half of each huge page unmaps it but frees nothing:
 * the folio stays whole (queued for a deferred split). Splitting it then
 * frees the unmapped half: the row keeps the mapped half's bytes in one
 * call per small page.
 */
TEST_F_TIMEOUT(paths, thp_partial_unmap, 120)
{
	long long half = self->hpage / 2;
	const struct at_row *r;
	char *p;
	int i, ret;

	if (!thp_usable(self))
		SKIP(return, "no transparent huge pages");
	if (access(SPLIT_DEBUGFS, W_OK))
		SKIP(return, "no %s", SPLIT_DEBUGFS);
	p = map_huge(self, NTHP);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, begin(self));
	r = fault_huge(self, p, NTHP);
	ASSERT_NE(NULL, r) TH_LOG("no row of the %d huge pages: %s", NTHP, why);

	for (i = 0; i < NTHP; i++)
		ASSERT_EQ(0, madvise(p + i * self->hpage + half, half, MADV_DONTNEED));
	ASSERT_EQ(0, snap(self, &self->b));
	EXPECT_TRUE(grew_exactly(&self->start, &self->b, r, NTHP * self->hpage, NTHP))
		TH_LOG("after MADV_DONTNEED: %s", why);

	ret = split_range(p, self->map_len, 0);
	ASSERT_EQ(0, ret) TH_LOG("writing %s: %s", SPLIT_DEBUGFS, strerror(-ret));
	ASSERT_EQ(0, snap(self, &self->c));
	EXPECT_TRUE(grew_exactly(&self->start, &self->c, r, NTHP * half,
				 NTHP * half / self->page)) TH_LOG("after the split: %s", why);

	unmap_and_check(self, _metadata, r, NULL);
}

/*
 * A large page-cache folio (tmpfs, huge=always) truncated in its middle is
 * split and its pages past the new end freed: its row keeps what is left,
 * one call per small page; deleting the file gives the rest back.
 */
TEST_F_TIMEOUT(paths, shmem_truncate, 120)
{
	const struct at_row *r;
	char *buf;
	int fd;

	if (!thp_usable(self))
		SKIP(return, "no transparent huge pages");
	snprintf(self->tmpdir, sizeof(self->tmpdir), "/tmp/alloc_tag_huge.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->tmpdir));
	if (mount("alloc_tag", self->tmpdir, "tmpfs", 0, "huge=always"))
		SKIP(return, "no huge tmpfs: %s", strerror(errno));
	self->tmpfs = true;
	snprintf(self->file, sizeof(self->file), "%s/file", self->tmpdir);
	buf = map_small(self, self->hpage / self->page);
	ASSERT_NE(NULL, buf);
	fill(self, buf, self->hpage / self->page);
	fd = open(self->file, O_RDWR | O_CREAT | O_EXCL, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, begin(self));
	ASSERT_EQ((ssize_t)self->hpage, pwrite(fd, buf, self->hpage, 0));
	ASSERT_EQ(0, snap(self, &self->a));
	r = grew(&self->start, &self->a, self->hpage, 1);
	ASSERT_NE(NULL, r) TH_LOG("no row of the file's huge folio: %s", why);

	ASSERT_EQ(0, ftruncate(fd, self->hpage / 4));
	ASSERT_EQ(0, snap(self, &self->b));
	EXPECT_TRUE(grew_exactly(&self->start, &self->b, r, self->hpage / 4,
				 self->hpage / 4 / self->page)) TH_LOG("after truncating: %s", why);

	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(0, unlink(self->file));
	self->file[0] = '\0';
	ASSERT_EQ(0, snap(self, &self->end));
	EXPECT_TRUE(grew_exactly(&self->start, &self->end, r, 0, 0))
		TH_LOG("after unlink: %s", why);
	EXPECT_TRUE(at_snap_none_negative(&self->end, why, sizeof(why))) TH_LOG("%s", why);
}

/* Two NUMA nodes online (0 and 1). */
static bool two_nodes(void)
{
	char buf[64] = "";
	FILE *f = fopen(NODES_ONLINE, "r");

	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return !strncmp(buf, "0-", 2) || !strncmp(buf, "0,1", 3);
}

static long set_mempolicy_node(int mode, int node)
{
	unsigned long mask = 1UL << node;

	return syscall(SYS_set_mempolicy, mode, mode == MPOL_DEFAULT ? NULL : &mask,
		       mode == MPOL_DEFAULT ? 0 : sizeof(mask) * 8);
}

/*
 * move_pages(2) of each page of [@p, @p + @n pages) to @node (-1: only
 * where they are). Returns how many are on @node afterwards, or -errno.
 */
static int move_to(PATHS_DATA *self, char *p, long n, int node)
{
	int i, on = 0;

	if (n > MAX_PAGES)
		return -E2BIG;
	for (i = 0; i < n; i++) {
		self->pages[i] = p + i * self->page;
		self->nodes[i] = node;
	}
	if (syscall(SYS_move_pages, 0, n, self->pages, node < 0 ? NULL : self->nodes,
		    self->status, MPOL_MF_MOVE) < 0)
		return -errno;
	if (node >= 0 &&
	    syscall(SYS_move_pages, 0, n, self->pages, NULL, self->status, 0) < 0)
		return -errno;
	for (i = 0; i < n; i++)
		on += self->status[i] == (node < 0 ? 0 : node);
	return on;
}

/*
 * The rows of migration targets' call sites, which each migration must
 * leave where they were: the new folio's allocation is given back when the
 * old folio is freed under its tag.
 */
static int targets_kept(const struct at_snap *a, const struct at_snap *b,
			char *out, size_t len)
{
	static const char *const funcs[] = {
		"alloc_migration_target", "alloc_migration_target_by_mpol",
		"compaction_alloc",
	};
	long long gb, gc;
	int i, j, found = 0;

	for (i = 0; i < b->n; i++) {
		for (j = 0; j < (int)(sizeof(funcs) / sizeof(*funcs)); j++) {
			if (strcmp(b->rows[i].func, funcs[j]))
				continue;
			found++;
			at_snap_growth(a, b, &b->rows[i], &gb, &gc);
			if (gb || gc) {
				snprintf(out, len, "%s:%d func:%s grew by %lld bytes in %lld calls",
					 b->rows[i].file, b->rows[i].line, b->rows[i].func,
					 gb, gc);
				return -1;
			}
		}
	}
	if (!found) {
		snprintf(out, len, "no row of a migration target");
		return -1;
	}
	return 0;
}

/*
 * Faults in @n pages (small, or huge if @huge) on node 0, then migrates
 * them to node 1 with @how and checks: the data's row keeps its bytes and
 * calls, the target's site ends where it started, nothing is negative;
 * munmap gives everything back.
 */
enum migrate_how { MOVE_PAGES, MBIND, MIGRATE_PAGES };

static void migrate(PATHS_DATA *self, struct __test_metadata *_metadata,
		    enum migrate_how how, bool huge)
{
	long pages = huge ? NTHP * self->hpage / self->page : NPAGES;
	unsigned long old_nodes = 1, new_nodes = 2;
	const struct at_row *r;
	char *p;
	long ret = 0;

	if (!two_nodes())
		SKIP(return, "one NUMA node (scripts/boot --numa gives two)");
	if (huge && !thp_usable(self))
		SKIP(return, "no transparent huge pages");
	p = huge ? map_huge(self, NTHP) : map_small(self, pages);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, set_mempolicy_node(MPOL_BIND, 0)) TH_LOG("set_mempolicy: %s", strerror(errno));
	ASSERT_EQ(0, begin(self));
	if (huge) {
		r = fault_huge(self, p, NTHP);
	} else {
		fill(self, p, pages);
		ASSERT_EQ(0, snap(self, &self->a));
		r = grew(&self->start, &self->a, pages * self->page, pages);
	}
	ASSERT_EQ(0, set_mempolicy_node(MPOL_DEFAULT, 0));
	ASSERT_NE(NULL, r) TH_LOG("no row of the faulted pages: %s", why);
	ASSERT_EQ(pages, move_to(self, p, pages, -1)) TH_LOG("not all on node 0");

	switch (how) {
	case MOVE_PAGES:
		ret = move_to(self, p, pages, 1);
		ASSERT_EQ(pages, ret)
			TH_LOG("move_pages: %ld on node 1 (%s)", ret,
			       ret < 0 ? strerror(-ret) : "");
		break;
	case MBIND:
		ret = syscall(SYS_mbind, p, self->map_len, MPOL_BIND, &new_nodes,
			      sizeof(new_nodes) * 8, MPOL_MF_MOVE | MPOL_MF_STRICT);
		ASSERT_EQ(0, ret) TH_LOG("mbind: %s", strerror(errno));
		break;
	case MIGRATE_PAGES:
		ret = syscall(SYS_migrate_pages, 0, sizeof(old_nodes) * 8, &old_nodes,
			      &new_nodes);
		ASSERT_LE(0, ret) TH_LOG("migrate_pages: %s", strerror(errno));
		break;
	}
	ASSERT_EQ(0, snap(self, &self->b));
	ASSERT_EQ(0, move_to(self, p, pages, -1)) TH_LOG("pages left on node 0");
	if (huge)
		EXPECT_EQ((long long)(self->map_len >> 10), anon_huge_kb(p, self->map_len))
			TH_LOG("the huge pages were split");
	EXPECT_TRUE(grew_exactly(&self->a, &self->b, r, 0, 0)) TH_LOG("the data's row: %s", why);
	EXPECT_EQ(0, targets_kept(&self->a, &self->b, why, sizeof(why))) TH_LOG("%s", why);
	EXPECT_TRUE(at_snap_none_negative(&self->b, why, sizeof(why))) TH_LOG("%s", why);

	unmap_and_check(self, _metadata, r, NULL);
}

TEST_F_TIMEOUT(paths, move_pages, 120)
{
	migrate(self, _metadata, MOVE_PAGES, false);
}

TEST_F_TIMEOUT(paths, move_pages_thp, 120)
{
	migrate(self, _metadata, MOVE_PAGES, true);
}

TEST_F_TIMEOUT(paths, mbind_move, 120)
{
	migrate(self, _metadata, MBIND, false);
}

TEST_F_TIMEOUT(paths, migrate_pages, 120)
{
	migrate(self, _metadata, MIGRATE_PAGES, false);
}

/* The page frame of @p (root may read them), or -1. */
static long long pfn_of(const void *p, long page)
{
	unsigned long long entry;
	int fd = open("/proc/self/pagemap", O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = pread(fd, &entry, sizeof(entry), (unsigned long)p / page * sizeof(entry));
	close(fd);
	if (n != sizeof(entry) || !(entry & (1ULL << 63)))
		return -1;
	return entry & ((1ULL << 55) - 1);
}

/* This page of ours is swapped out (pagemap). */
static bool swapped(const void *p, long page)
{
	unsigned long long entry = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return false;
	n = pread(fd, &entry, sizeof(entry), (unsigned long)p / page * sizeof(entry));
	close(fd);
	return n == sizeof(entry) && (entry & (1ULL << 62));
}

/* Node 0's free memory (the system's without NUMA), in bytes, or -errno. */
static long long free_bytes(bool numa)
{
	char line[256];
	long long kb = -ENOENT;
	FILE *f = fopen(numa ? "/sys/devices/system/node/node0/meminfo" : "/proc/meminfo", "r");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, numa ? "Node 0 MemFree: %lld kB" : "MemFree: %lld kB", &kb) == 1)
			break;
	fclose(f);
	return kb < 0 ? kb : kb << 10;
}

/*
 * Compaction migrates movable pages into free ones it took off the free
 * lists (compaction_alloc()): every page it moves keeps its tag, and
 * compaction_alloc()'s row ends where it started. So that compaction has
 * the test's pages to move, they are placed low in the zone: a filler
 * takes 40 % of the free memory first (compaction moves pages from the
 * bottom of a zone to free pages at its top) and is freed before.
 */
TEST_F_TIMEOUT(paths, compaction, 300)
{
	long pages = 16 * NPAGES, kept = pages / 2, moved = 0, i;
	bool numa = two_nodes();
	long long *pfns, filler_len;
	const struct at_row *r;
	char *p, *filler;

	if (access("/proc/sys/vm/compact_memory", W_OK))
		SKIP(return, "no compaction");
	/* Only the compaction asked for: kcompactd does none of its own. */
	ASSERT_EQ(0, save_and_write(self, "/proc/sys/vm/compaction_proactiveness", "0"));
	pfns = calloc(pages, sizeof(*pfns));
	ASSERT_NE(NULL, pfns);
	filler_len = free_bytes(numa) / 5 * 2 / self->page * self->page;
	ASSERT_LT(0, filler_len);
	filler = mmap(NULL, filler_len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, filler);
	ASSERT_EQ(0, no_huge_pages(filler, filler_len));
	p = map_small(self, pages);
	ASSERT_NE(NULL, p);
	/* Node 0 first, but not at the price of the OOM killer. */
	if (numa)
		ASSERT_EQ(0, set_mempolicy_node(MPOL_PREFERRED, 0));
	ASSERT_EQ(0, begin(self));
	for (i = 0; i < filler_len; i += self->page)
		filler[i] = 1;
	fill(self, p, pages);
	ASSERT_EQ(0, set_mempolicy_node(MPOL_DEFAULT, 0));
	ASSERT_EQ(0, munmap(filler, filler_len));
	/* Holes: every other page is given back. */
	for (i = 1; i < pages; i += 2)
		ASSERT_EQ(0, madvise(p + i * self->page, self->page, MADV_DONTNEED));
	for (i = 0; i < pages; i += 2)
		pfns[i] = pfn_of(p + i * self->page, self->page);
	ASSERT_EQ(0, snap(self, &self->a));
	r = grew(&self->start, &self->a, kept * self->page, kept);
	ASSERT_NE(NULL, r) TH_LOG("no row of the faulted pages: %s", why);

	ASSERT_EQ(0, at_write_file("/proc/sys/vm/compact_memory", "1"));
	ASSERT_EQ(0, snap(self, &self->b));
	for (i = 0; i < pages; i += 2)
		moved += pfn_of(p + i * self->page, self->page) != pfns[i];
	EXPECT_TRUE(grew_exactly(&self->a, &self->b, r, 0, 0)) TH_LOG("the data's row: %s", why);
	EXPECT_EQ(0, targets_kept(&self->a, &self->b, why, sizeof(why))) TH_LOG("%s", why);
	EXPECT_TRUE(at_snap_none_negative(&self->b, why, sizeof(why))) TH_LOG("%s", why);
	for (i = 0; i < pages; i += 2)
		ASSERT_EQ((char)(i % 251 + 1), p[i * self->page]);

	unmap_and_check(self, _metadata, r, NULL);
	if (!moved && _metadata->exit_code != KSFT_FAIL)
		SKIP(return, "compaction moved none of the test's %ld pages", kept);
	TH_LOG("compaction moved %ld of the test's %ld pages", moved, kept);
}

/*
 * hugetlb pool pages are allocated when the pool grows and counted there,
 * once each; faulting them into a mapping allocates nothing; shrinking the
 * pool frees them. With the vmemmap optimisation (HVO) each pool page also
 * frees the struct pages of its tails and allocates them again when it
 * leaves the pool: they are counted at the vmemmap's own row and stay, as
 * struct pages do.
 */
static void hugetlb_pool(PATHS_DATA *self,
			 struct __test_metadata *_metadata, bool hvo)
{
	long long nr = at_read_ll(NR_HUGEPAGES);
	char val[32];
	const struct at_row *r;
	char *p;
	int ret;

	if (nr < 0)
		SKIP(return, "no hugetlb pages");
	if (hvo) {
		if (access(HUGETLB_HVO, W_OK))
			SKIP(return, "no %s", HUGETLB_HVO);
		/*
		 * 6.12's vmemmap restore leaves tail struct pages that
		 * DEBUG_VM's checks find bad when the page is freed ("Bad
		 * page state", on the C kernel too): scripts/test asks for
		 * this test where they do not run.
		 */
		if (!at_env_flag("ALLOC_TAG_HVO"))
			SKIP(return,
			     "6.12's vmemmap restore: bad tail struct pages (ALLOC_TAG_HVO=1 runs it)");
		ASSERT_EQ(0, save_and_write(self, HUGETLB_HVO, "1"));
	}
	ASSERT_EQ(0, begin(self));
	snprintf(val, sizeof(val), "%lld", nr + NTHP);
	ret = save_and_write(self, NR_HUGEPAGES, val);
	ASSERT_EQ(0, ret) TH_LOG("%s: %s", NR_HUGEPAGES, strerror(-ret));
	if (at_read_ll(NR_HUGEPAGES) != nr + NTHP)
		SKIP(return, "the pool did not grow by %d pages", NTHP);
	ASSERT_EQ(0, snap(self, &self->a));
	r = grew(&self->start, &self->a, NTHP * self->hpage, NTHP);
	ASSERT_NE(NULL, r) TH_LOG("no row of the pool's pages: %s", why);

	p = mmap(NULL, NTHP * self->hpage, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("MAP_HUGETLB: %s", strerror(errno));
	self->map = p;
	self->map_len = NTHP * self->hpage;
	fill(self, p, self->map_len / self->page);
	ASSERT_EQ(0, snap(self, &self->b));
	EXPECT_TRUE(grew_exactly(&self->a, &self->b, r, 0, 0))
		TH_LOG("faulting pool pages in: %s", why);
	EXPECT_EQ(NULL, grew(&self->a, &self->b, NTHP * self->hpage, NTHP))
		TH_LOG("a row counted the faulted pool pages again");
	ASSERT_EQ(0, munmap(p, self->map_len));
	self->map = MAP_FAILED;

	snprintf(val, sizeof(val), "%lld", nr);
	ASSERT_EQ(0, at_write_file(NR_HUGEPAGES, val));
	ASSERT_EQ(nr, at_read_ll(NR_HUGEPAGES));
	ASSERT_EQ(0, snap(self, &self->end));
	EXPECT_TRUE(grew_exactly(&self->start, &self->end, r, 0, 0))
		TH_LOG("after shrinking the pool: %s", why);
	EXPECT_TRUE(at_snap_none_negative(&self->end, why, sizeof(why))) TH_LOG("%s", why);
}

TEST_F_TIMEOUT(paths, hugetlb, 120)
{
	hugetlb_pool(self, _metadata, false);
}

TEST_F_TIMEOUT(paths, hugetlb_vmemmap, 120)
{
	hugetlb_pool(self, _metadata, true);
}

/*
 * The swap header mkswap writes (include/linux/swap.h, union swap_header):
 * version 1, the last page, "SWAPSPACE2" at the end of the first page.
 */
static int write_swap_header(const char *dev, long long size, long page)
{
	char *hdr = calloc(1, page);
	unsigned int *info;
	int fd, ret = 0;

	if (!hdr)
		return -ENOMEM;
	info = (unsigned int *)(hdr + 1024);
	info[0] = 1;
	info[1] = size / page - 1;
	memcpy(hdr + page - 10, "SWAPSPACE2", 10);
	fd = open(dev, O_WRONLY);
	if (fd < 0 || pwrite(fd, hdr, page, 0) != page || fsync(fd))
		ret = -errno;
	if (fd >= 0)
		close(fd);
	free(hdr);
	return ret;
}

/*
 * Swapping out to zram frees the pages (their row gives them back);
 * touching them again allocates each anew at the swap-in site, once.
 */
TEST_F_TIMEOUT(paths, swap_out_in, 300)
{
	const struct at_row *r, *in;
	char sum = 0;
	long i, out = 0;
	char *p;
	int ret;

	if (access(ZRAM "disksize", W_OK))
		SKIP(return, "no zram");
	at_write_file(ZRAM "reset", "1");
	ASSERT_EQ(0, at_write_file(ZRAM "disksize", "32M"));
	self->zram_set = true;
	ASSERT_EQ(0, write_swap_header(ZRAM_DEV, 32 << 20, self->page));
	ASSERT_EQ(0, swapon(ZRAM_DEV, 0)) TH_LOG("swapon: %s", strerror(errno));
	self->swap_on = true;
	/* One page per fault: no readahead of neighbours. */
	ret = save_and_write(self, "/proc/sys/vm/page-cluster", "0");
	ASSERT_EQ(0, ret);
	p = map_small(self, NPAGES);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, begin(self));
	fill(self, p, NPAGES);
	ASSERT_EQ(0, snap(self, &self->a));
	r = grew(&self->start, &self->a, NPAGES * self->page, NPAGES);
	ASSERT_NE(NULL, r) TH_LOG("no row of the faulted pages: %s", why);

	ret = madvise(p, self->map_len, MADV_PAGEOUT);
	ASSERT_EQ(0, ret) TH_LOG("MADV_PAGEOUT: %s", strerror(errno));
	for (i = 0; i < NPAGES; i++)
		out += swapped(p + i * self->page, self->page);
	ASSERT_EQ(0, snap(self, &self->b));
	ASSERT_EQ(NPAGES, out) TH_LOG("%ld of %d pages swapped out", out, NPAGES);
	EXPECT_TRUE(grew_exactly(&self->start, &self->b, r, 0, 0)) TH_LOG("swapped out: %s", why);

	for (i = 0; i < NPAGES; i++)
		sum += p[i * self->page];
	/* As if the sum were used: every page is read. */
	asm volatile("" : : "r"(sum));
	ASSERT_EQ(0, snap(self, &self->c));
	in = grew(&self->b, &self->c, NPAGES * self->page, NPAGES);
	ASSERT_NE(NULL, in) TH_LOG("no row of the pages swapped in: %s", why);
	for (i = 0; i < NPAGES; i++)
		ASSERT_EQ((char)(i % 251 + 1), p[i * self->page + self->page - 1]);

	unmap_and_check(self, _metadata, r, in);
}

/* Waits until KSM shares @want pages at least; false after 60 s. */
static bool ksm_wait_sharing(long long want)
{
	int i;

	for (i = 0; i < 6000; i++) {
		if (at_read_ll(KSM_SYSFS "pages_sharing") >= want)
			return true;
		usleep(10000);
	}
	return false;
}

/*
 * KSM merges identical pages into one of them and frees the others: the
 * row keeps one page in one call. A write to a merged page copies it (one
 * more page at the copy's site); munmap gives everything back.
 */
TEST_F_TIMEOUT(paths, ksm_merge, 120)
{
	const struct at_row *r, *cow;
	char *p;
	long i;

	if (access(KSM_SYSFS "run", W_OK))
		SKIP(return, "no KSM");
	p = map_small(self, KSM_PAGES);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, begin(self));
	memset(p, 0x5a, self->map_len);
	ASSERT_EQ(0, snap(self, &self->a));
	r = grew(&self->start, &self->a, KSM_PAGES * self->page, KSM_PAGES);
	ASSERT_NE(NULL, r) TH_LOG("no row of the faulted pages: %s", why);
	ASSERT_EQ(0, madvise(p, self->map_len, MADV_MERGEABLE)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, save_and_write(self, KSM_SYSFS "pages_to_scan", "10000"));
	ASSERT_EQ(0, save_and_write(self, KSM_SYSFS "sleep_millisecs", "10"));
	ASSERT_EQ(0, save_and_write(self, KSM_SYSFS "run", "1"));
	ASSERT_TRUE(ksm_wait_sharing(KSM_PAGES - 1))
		TH_LOG("KSM shares %lld pages", at_read_ll(KSM_SYSFS "pages_sharing"));
	/* ksmd stops: nothing merges or frees behind the test's back. */
	ASSERT_EQ(0, at_write_file(KSM_SYSFS "run", "0"));
	ASSERT_EQ(0, snap(self, &self->b));
	EXPECT_TRUE(grew_exactly(&self->start, &self->b, r, self->page, 1))
		TH_LOG("merged: %s", why);

	for (i = 0; i < 16; i++)
		p[i * self->page] = 1;
	ASSERT_EQ(0, snap(self, &self->c));
	cow = grew(&self->b, &self->c, 16 * self->page, 16);
	ASSERT_NE(NULL, cow) TH_LOG("no row of the 16 copies: %s", why);

	unmap_and_check(self, _metadata, r, cow);
}

/* memory.stat's "anon" of the test's cgroup, or -errno. */
static long long memcg_anon(void)
{
	char line[256];
	long long v = -ENOENT;
	FILE *f = fopen(CGROUP_TEST "/memory.stat", "r");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "anon %lld", &v) == 1)
			break;
	fclose(f);
	return v;
}

/*
 * Pages charged to a memory cgroup are counted exactly as others: the
 * cgroup holds exactly the faulted pages, the row grows by them, and both
 * give them back at munmap.
 */
TEST_F_TIMEOUT(paths, memcg, 120)
{
	const struct at_row *r;
	char pid[16];
	char *p;

	if (access(CGROUP, F_OK))
		SKIP(return, "no cgroups");
	if (access(CGROUP "/cgroup.subtree_control", F_OK) &&
	    mount("cgroup2", CGROUP, "cgroup2", 0, NULL))
		SKIP(return, "no cgroup2: %s", strerror(errno));
	if (at_write_file(CGROUP "/cgroup.subtree_control", "+memory"))
		SKIP(return, "no memory controller");
	ASSERT_EQ(0, mkdir(CGROUP_TEST, 0755)) TH_LOG("%s: %s", CGROUP_TEST, strerror(errno));
	snprintf(pid, sizeof(pid), "%d", getpid());
	ASSERT_EQ(0, at_write_file(CGROUP_TEST "/cgroup.procs", pid));
	self->memcg = true;
	p = map_small(self, NPAGES);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, begin(self));
	fill(self, p, NPAGES);
	ASSERT_EQ(0, snap(self, &self->a));
	r = grew(&self->start, &self->a, NPAGES * self->page, NPAGES);
	ASSERT_NE(NULL, r) TH_LOG("no row of the faulted pages: %s", why);
	EXPECT_EQ(NPAGES * self->page, memcg_anon());

	unmap_and_check(self, _metadata, r, NULL);
	EXPECT_EQ(0, memcg_anon());
}

TEST_HARNESS_MAIN
