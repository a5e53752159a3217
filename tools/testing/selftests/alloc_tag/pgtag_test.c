// SPDX-License-Identifier: GPL-2.0
/*
 * Page tag references: where the kernel keeps the tag of each page
 * (page_ext, or page->flags with sysctl.vm.mem_profiling=1,compressed) and
 * what page splitting and partial frees do to the counters. The mode comes
 * from /proc/cmdline; $ALLOC_TAG_EXPECT names the boots where it cannot
 * work (scripts/test boots them on debugging kernels, which have the knob
 * alloc_tag.compressed_bits=):
 *
 *   nofit-kernel   too few bits for the kernel's own tags: profiling is
 *                  disabled at boot with a warning giving both numbers
 *   nofit-module   bits for the kernel's tags but not for the 4096 of the
 *                  alloc_tag_many module: the module tag area is made as
 *                  small as the indexes left; loading the module finds no
 *                  room, disables profiling with a warning naming it, and
 *                  it loads
 *
 * $ALLOC_TAG_COMPRESSED=1 says the kernel has compressed mode; without it
 * (C 6.12) the mode file is not looked for.
 *
 * Uses the modules alloc_tag_pages, alloc_tag_many and (to see that the
 * system runs) alloc_tag_test from /modules/ (or next to
 * $ALLOC_TAG_TEST_MODULE).
 */
#include "../kselftest_harness.h"
#include "alloc_tag_util.h"

#include <dirent.h>
#include <sched.h>

#define COMPRESSED_SYSCTL	"/proc/sys/vm/mem_profiling_compressed"
#define MANY_NAME		"alloc_tag_many"
#define PAGES_NAME		"alloc_tag_pages"
#define SPLIT_PAGES		8

static char why[2048];

static bool expecting(const char *what)
{
	const char *e = getenv("ALLOC_TAG_EXPECT");

	return e && !strcmp(e, what);
}

/* The command line asks for compressed mode. */
static bool asked_compressed(void)
{
	char val[256];

	return at_cmdline_value("sysctl.vm.mem_profiling", val, sizeof(val)) &&
	       strstr(val, ",compressed");
}

/*
 * The bytes and calls of the alloc_tag_pages row at @line, in @r; false if
 * there is no such row.
 */
static bool module_row(int line, struct at_row *r)
{
	struct at_row rows[16];
	const struct at_row *p;
	int n = at_read_rows(PAGES_NAME, rows, 16);

	p = n > 0 ? at_find_row(rows, n, PAGES_NAME ".c", line) : NULL;
	if (p)
		*r = *p;
	return p;
}

/* The row at @line counts @pages pages in @calls allocations. */
static bool row_is(int line, long long pages, long long calls)
{
	struct at_row r;

	if (!module_row(line, &r)) {
		snprintf(why, sizeof(why), "no row for %s.c:%d", PAGES_NAME, line);
		return false;
	}
	snprintf(why, sizeof(why), "%s.c:%d: %lld bytes %llu calls, want %lld %lld",
		 PAGES_NAME, line, r.bytes, r.calls,
		 pages * sysconf(_SC_PAGESIZE), calls);
	return r.bytes == pages * sysconf(_SC_PAGESIZE) &&
	       (long long)r.calls == calls;
}

/* Loads alloc_tag_pages afresh: 0 or -errno. */
static int load_pages(void)
{
	char path[512];

	if (at_module_is_loaded(PAGES_NAME))
		at_unload_module_name(PAGES_NAME);
	return at_load_module_file(at_module_file(PAGES_NAME, path, sizeof(path)), "");
}

static int set_pages(const char *param, const char *val)
{
	return at_set_mod_param(PAGES_NAME, param, val);
}

/* The file reads the mode in force and cannot be written, even by root. */
TEST(mode_is_shown_read_only)
{
	long long want = asked_compressed() && !expecting("nofit-kernel");

	if (!at_env_flag("ALLOC_TAG_COMPRESSED"))
		SKIP(return, "C 6.12: no compressed mode");
	ASSERT_EQ(want, at_read_ll(COMPRESSED_SYSCTL));
	EXPECT_NE(0, at_write_file(COMPRESSED_SYSCTL, want ? "0" : "1"));
	EXPECT_EQ(want, at_read_ll(COMPRESSED_SYSCTL));
}

/*
 * page_ext holds tag references only when they are not in page->flags:
 * in compressed mode there is none, unless another client of page_ext
 * (page_owner=on) asks for it.
 */
TEST(page_ext_only_without_compressed)
{
	static const char *const page_ext[] = { "bytes of page_ext", NULL };
	char *log = at_kernel_log(), owner[16];
	bool found;

	ASSERT_NE(NULL, log);
	found = at_log_find(log, page_ext, why, sizeof(why));
	free(log);
	if (at_read_ll(COMPRESSED_SYSCTL) == 1) {
		if (at_cmdline_value("page_owner", owner, sizeof(owner)) &&
		    !strcmp(owner, "on"))
			SKIP(return, "page_owner=on: page_ext is there for it");
		EXPECT_FALSE(found) TH_LOG("compressed, but: %s", why);
	} else if (at_sysctl() == 1) {
		EXPECT_TRUE(found) TH_LOG("no \"allocated N bytes of page_ext\" line");
	} else {
		SKIP(return, "profiling is off: page_ext has no reason to be there");
	}
}

/*
 * split_page() of an order-3 block: 8 pages of one allocation become 8
 * allocations of one page, each freed on its own; nothing goes negative.
 */
TEST(split_pages_count_exactly)
{
	long long line;

	if (at_sysctl() != 1)
		SKIP(return, "memory allocation profiling is off");
	ASSERT_EQ(0, load_pages());
	ASSERT_EQ(0, set_pages("split", "8"));
	line = at_mod_param(PAGES_NAME, "split_line");
	ASSERT_LT(0, line);
	EXPECT_TRUE(row_is(line, SPLIT_PAGES, SPLIT_PAGES)) TH_LOG("split: %s", why);
	ASSERT_EQ(0, set_pages("split", "3"));
	EXPECT_TRUE(row_is(line, 3, 3)) TH_LOG("5 freed: %s", why);
	ASSERT_EQ(0, set_pages("split", "0"));
	EXPECT_TRUE(row_is(line, 0, 0)) TH_LOG("all freed: %s", why);
	EXPECT_EQ(0, at_unload_module_name(PAGES_NAME));
}

/*
 * __free_pages() of an order-3 block whose first page is held elsewhere
 * frees the 7 others and unaccounts them; freeing the first page later
 * brings the row to zero.
 */
TEST(tail_pages_freed_first)
{
	long long line;

	if (at_sysctl() != 1)
		SKIP(return, "memory allocation profiling is off");
	ASSERT_EQ(0, load_pages());
	ASSERT_EQ(0, set_pages("tail", "1"));
	line = at_mod_param(PAGES_NAME, "tail_line");
	ASSERT_LT(0, line);
	EXPECT_TRUE(row_is(line, 1, 1)) TH_LOG("tail pages freed: %s", why);
	ASSERT_EQ(0, set_pages("tail", "0"));
	EXPECT_TRUE(row_is(line, 0, 0)) TH_LOG("first page freed: %s", why);
	EXPECT_EQ(0, at_unload_module_name(PAGES_NAME));
}

/*
 * A page freed while profiling is off keeps its tag reference (nothing
 * unaccounts it); allocated again with profiling on it must count to its
 * new tag only. In page->flags, OR-ing the new index into the stale one
 * would make an index of neither. Needs the freed page back: the test
 * stays on one CPU, whose free list hands out the page freed last first,
 * and skips if another page came.
 */
TEST(stale_reference_is_replaced)
{
	long long split_line, line;
	cpu_set_t cpu;

	if (at_sysctl() != 1)
		SKIP(return, "memory allocation profiling is off");
	if (access(AT_SYSCTL, W_OK) || at_write_file(AT_SYSCTL, "1"))
		SKIP(return, "%s is read-only", AT_SYSCTL);
	CPU_ZERO(&cpu);
	CPU_SET(0, &cpu);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(cpu), &cpu));
	ASSERT_EQ(0, load_pages());
	ASSERT_EQ(0, set_pages("split", "1"));
	split_line = at_mod_param(PAGES_NAME, "split_line");
	ASSERT_EQ(0, at_write_file(AT_SYSCTL, "0"));
	/* Freed unaccounted: the split row keeps its page for good. */
	EXPECT_EQ(0, set_pages("split", "0"));
	ASSERT_EQ(0, at_write_file(AT_SYSCTL, "1"));
	ASSERT_EQ(0, set_pages("single", "1"));
	line = at_mod_param(PAGES_NAME, "single_line");
	ASSERT_LT(0, line);
	if (at_mod_param(PAGES_NAME, "single_reused") != 1) {
		set_pages("single", "0");
		at_unload_module_name(PAGES_NAME);
		SKIP(return, "the page freed last did not come back");
	}
	EXPECT_TRUE(row_is(line, 1, 1)) TH_LOG("reused page: %s", why);
	EXPECT_TRUE(row_is(split_line, 1, 1)) TH_LOG("stale tag: %s", why);
	ASSERT_EQ(0, set_pages("single", "0"));
	EXPECT_TRUE(row_is(line, 0, 0)) TH_LOG("freed: %s", why);
	EXPECT_TRUE(row_is(split_line, 1, 1)) TH_LOG("stale tag after the free: %s", why);
	EXPECT_EQ(0, at_unload_module_name(PAGES_NAME));
}

/* After everything above: no row anywhere is negative or wrapped. */
TEST(no_negative_counters)
{
	char line[4096];
	struct at_row r;
	int bad = 0, rows = 0;
	FILE *f = fopen(AT_ALLOCINFO, "r");

	if (!f && errno == ENOENT && !at_sysctl())
		SKIP(return, "no %s: profiling is off for good", AT_ALLOCINFO);
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f)) {
		if (!at_parse_row(line, &r))
			continue;
		rows++;
		if (r.bytes < 0 || r.calls > (1ULL << 62)) {
			if (!bad++)
				snprintf(why, sizeof(why), "%.1000s", line);
		}
	}
	fclose(f);
	EXPECT_LT(100, rows);
	EXPECT_EQ(0, bad) TH_LOG("%d rows below zero, the first: %s", bad, why);
}

/* Booted with too few bits for the kernel's tags. */
TEST(kernel_tags_do_not_fit)
{
	static const char *const warning[] = {
		"compressed: the kernel's", "allocation tags need",
		"bits of page->flags,", "are free", NULL };
	char *log;

	if (!expecting("nofit-kernel"))
		SKIP(return, "not booted with too few bits for the kernel's tags");
	log = at_kernel_log();
	ASSERT_NE(NULL, log);
	EXPECT_TRUE(at_log_find(log, warning, why, sizeof(why)))
		TH_LOG("no warning with both numbers");
	free(log);
	EXPECT_EQ(0, at_sysctl());
	EXPECT_EQ(0, at_read_ll(COMPRESSED_SYSCTL));
	/* The system runs: a module loads and allocates. */
	at_module_reset();
	ASSERT_EQ(0, at_load_module());
	EXPECT_EQ(0, at_set_param("allocated", "1"));
	EXPECT_EQ(0, at_set_param("allocated", "0"));
	EXPECT_EQ(0, at_unload_module());
}

/*
 * Booted with bits for the kernel's tags but not for alloc_tag_many's: the
 * module tag area holds only the tags page->flags can index (the boot log
 * says so, and every index is used), so alloc_tag_many finds no room in it:
 * loading it disables profiling with a warning naming it, and it loads.
 */
TEST(module_tags_do_not_fit)
{
	static const char *const sized[] = {
		"compressed: page->flags has indexes for ",
		"module tags; the module tag area holds",
		NULL };
	static const char *const warning[] = {
		"module " MANY_NAME ": no room for", NULL };
	long long kernel, room, max;
	char path[512], found[1024], *log, *p;
	struct at_area area;
	int fd, n;

	if (!expecting("nofit-module"))
		SKIP(return, "not booted with bits for the kernel's tags only");
	ASSERT_EQ(1, at_sysctl());
	ASSERT_EQ(1, at_read_ll(COMPRESSED_SYSCTL));
	log = at_kernel_log();
	ASSERT_NE(NULL, log);
	EXPECT_TRUE(at_log_find(log, sized, why, sizeof(why)))
		TH_LOG("no line saying the area was made smaller");
	p = strstr(log, "kernel tags, room for ");
	ASSERT_NE(NULL, p) TH_LOG("no 'compressed: tag references in ...' line");
	while (p > log && p[-1] != ';')
		p--;
	n = sscanf(p, " %lld kernel tags, room for %lld module tags, indexes up to %lld",
		   &kernel, &room, &max);
	ASSERT_EQ(3, n);
	free(log);
	/* Indexes 0 and 1 are the markers; every other one names a tag. */
	EXPECT_EQ(max + 1, 2 + kernel + room);
	ASSERT_EQ(0, at_read_area(&area));
	EXPECT_EQ(room * 40, area.capacity) TH_LOG("%s", at_area_text(&area).s);

	fd = at_kmsg_open(false);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, at_load_module_file(at_module_file(MANY_NAME, path, sizeof(path)),
					 "run=1"));
	log = at_kmsg_read(fd);
	close(fd);
	ASSERT_NE(NULL, log);
	EXPECT_TRUE(at_log_find(log, warning, found, sizeof(found)))
		TH_LOG("no warning naming the module");
	free(log);
	EXPECT_TRUE(at_module_is_loaded(MANY_NAME));
	EXPECT_EQ(0, at_sysctl());
	EXPECT_EQ(0, at_unload_module_name(MANY_NAME));
}

/*
 * Pages allocated in early boot, before page_ext exists (it is set up late,
 * in page_ext_init()), are freed later without a report: with debugging
 * they must be marked "empty" once page_ext exists (upstream's "clear
 * codetag for pages allocated before page_ext initialization"). Slab pages
 * of the first caches are such pages: every empty slab of every cache is
 * given back (/sys/kernel/slab/<cache>/shrink), and the page cache and
 * dentries are dropped, then the kernel log since the test began must have
 * no "page tag reference" report.
 */
TEST(early_pages_are_freed_quietly)
{
	static const char *const report[] = { "page tag reference", NULL };
	char path[512], *log;
	struct dirent *d;
	int fd, shrunk = 0;
	DIR *dir;

	if (at_sysctl() != 1)
		SKIP(return, "memory allocation profiling is off");
	dir = opendir("/sys/kernel/slab");
	if (!dir)
		SKIP(return, "no /sys/kernel/slab");
	fd = at_kmsg_open(false);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, at_write_file("/proc/sys/vm/drop_caches", "3"));
	while ((d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink", d->d_name);
		shrunk += !at_write_file(path, "1");
	}
	closedir(dir);
	log = at_kmsg_read(fd);
	close(fd);
	ASSERT_NE(NULL, log);
	EXPECT_LT(0, shrunk);
	EXPECT_FALSE(at_log_find(log, report, why, sizeof(why))) TH_LOG("%s", why);
	free(log);
}

TEST_HARNESS_MAIN
