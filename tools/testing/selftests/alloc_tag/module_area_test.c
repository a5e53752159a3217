// SPDX-License-Identifier: GPL-2.0
/*
 * The module tag area: the allocation tags of every module in one area
 * sized by the boot option alloc_tag.module_tags (in tags). A module that
 * unloads with live allocations leaves its tags there, still counting,
 * until they reach zero and a later module load reclaims them. Its figures
 * are in debugfs (AT_AREA): capacity, used, populated (bytes), ranges,
 * unloaded (counts).
 *
 * $ALLOC_TAG_AREA=1 says the kernel has the area; without it (C 6.12)
 * every test skips. $ALLOC_TAG_EXPECT names the boot (scripts/test):
 *
 *   default   no alloc_tag.module_tags: the area of the default size;
 *             load/unload cycles leave no trace, a module's tags outlive
 *             it while another module holds its allocations (handoff), a
 *             module whose tags need a larger alignment is refused
 *   noarea    alloc_tag.module_tags=0: no area, profiling disabled for
 *             good, no /proc/allocinfo, modules still work
 *   areafull  alloc_tag.module_tags=1: the test module's tags do not fit,
 *             profiling is disabled for good, /proc/allocinfo is frozen,
 *             modules still work; a load that fails before the module is
 *             formed does not disable profiling
 *   areatight room for the test module's tags and one more: the one tag of
 *             alloc_tag_align64, which asks for a 64-byte alignment, does
 *             not fit after them; profiling is disabled and it loads
 *
 * Uses the modules alloc_tag_test, alloc_tag_keeper, alloc_tag_align and
 * alloc_tag_align64 of tests/modules/, from /modules/ (or next to
 * $ALLOC_TAG_TEST_MODULE).
 */
#include <signal.h>
#include <sys/wait.h>

#include "../kselftest_harness.h"
#include "alloc_tag_util.h"

#define TAGS_PARAM	"alloc_tag.module_tags"
/* The area's capacity without TAGS_PARAM, in tags. */
#define TAGS_DEFAULT	100000
/* sizeof(struct alloc_tag) on 64-bit. */
#define TAG_BYTES	40
#define CYCLES		200
/* Every how many cycles the rows are checked. */
#define CYCLE_CHECK	50
#define ALIGN_NAME	"alloc_tag_align"
#define ALIGN64_NAME	"alloc_tag_align64"

#define NOAREA_MSG	"alloc_tag: " TAGS_PARAM "=0: no module tag area; " \
			"disabling memory allocation profiling"
#define NOROOM_MSG	"alloc_tag: module " AT_MOD_NAME ": no room for "
#define NOROOM_END	" bytes used); disabling memory allocation profiling"
#define RECLAIM_MSG	"alloc_tag: reclaimed the tags of unloaded module " \
			AT_MOD_NAME

enum expect { EXPECT_DEFAULT, EXPECT_NOAREA, EXPECT_AREAFULL, EXPECT_AREATIGHT };

static const char *const expect_names[] = {
	[EXPECT_DEFAULT] = "default",
	[EXPECT_NOAREA] = "noarea",
	[EXPECT_AREAFULL] = "areafull",
	[EXPECT_AREATIGHT] = "areatight",
};

static char why[2048];

static enum expect expectation(void)
{
	const char *e = getenv("ALLOC_TAG_EXPECT");
	unsigned int i;

	/* "on" (=1 given, as in the compressed boot): the default area. */
	if (!e || !*e || !strcmp(e, "on"))
		return EXPECT_DEFAULT;
	for (i = 0; i < ARRAY_SIZE(expect_names); i++)
		if (!strcmp(e, expect_names[i]))
			return i;
	fprintf(stderr,
		"ALLOC_TAG_EXPECT=%s: want default, on, noarea, areafull or areatight\n", e);
	exit(KSFT_FAIL);
}

/* Why a test of boot @want does not run in this one, or NULL if it does. */
static const char *skip_reason(enum expect want)
{
	static char reason[128];

	if (!at_env_flag("ALLOC_TAG_AREA"))
		return "C 6.12: no module tag area";
	if (expectation() != want) {
		snprintf(reason, sizeof(reason), "a test of the %s boot, this is %s",
			 expect_names[want], expect_names[expectation()]);
		return reason;
	}
	return NULL;
}

/* Loads the test module and makes its allocations, described in @e. */
static void load_and_allocate(struct __test_metadata *_metadata,
			      struct at_expect *e)
{
	int ret = at_load_module();

	ASSERT_EQ(0, ret) TH_LOG("loading %s: %s", at_module_path(), strerror(-ret));
	ret = at_set_param("allocated", "1");
	ASSERT_EQ(0, ret) TH_LOG("allocating: %s", strerror(-ret));
	ret = at_expectation(e);
	ASSERT_EQ(0, ret) TH_LOG("reading the module's parameters: %s", strerror(-ret));
}

static void read_area(struct __test_metadata *_metadata, struct at_area *a,
		      const char *when)
{
	int ret = at_read_area(a);

	ASSERT_EQ(0, ret) TH_LOG("%s: reading %s: %s", when, AT_AREA, strerror(-ret));
	TH_LOG("%s: %s", when, at_area_text(a).s);
}

/* The boot of the area's default size. */
FIXTURE(area) {};

FIXTURE_SETUP(area)
{
	const char *skip = skip_reason(EXPECT_DEFAULT);

	if (skip)
		SKIP(return, "%s", skip);
	if (at_sysctl() != 1)
		SKIP(return, "memory allocation profiling is off");
	at_module_reset();
}

FIXTURE_TEARDOWN(area)
{
	at_module_reset();
}

/*
 * The figures agree with themselves and the capacity with the boot option
 * (or its default): TAG_BYTES a tag.
 */
TEST_F(area, figures)
{
	long page = sysconf(_SC_PAGESIZE);
	long long tags = TAGS_DEFAULT;
	struct at_area a;
	char val[64];

	if (at_cmdline_value(TAGS_PARAM, val, sizeof(val)))
		tags = strtoll(val, NULL, 0);
	read_area(_metadata, &a, "now");
	EXPECT_EQ(tags * TAG_BYTES, a.capacity);
	EXPECT_LE(a.used, a.capacity);
	EXPECT_LE(a.used, a.populated);
	EXPECT_EQ(0, a.populated % page);
	EXPECT_LE(a.unloaded, a.ranges);
}

/* One load, allocate, free, unload of the test module; @check: its rows. */
static void load_cycle(struct __test_metadata *_metadata, int i, bool check)
{
	struct at_expect e;
	int ret = at_load_module();

	ASSERT_EQ(0, ret) TH_LOG("cycle %d: loading %s: %s", i, at_module_path(),
				 strerror(-ret));
	ret = at_set_param("allocated", "1");
	ASSERT_EQ(0, ret) TH_LOG("cycle %d: allocating: %s", i, strerror(-ret));
	if (check) {
		ASSERT_EQ(0, at_expectation(&e));
		ASSERT_EQ(0, at_check_rows(&e, true, why, sizeof(why)))
			TH_LOG("cycle %d: %s", i, why);
	}
	ret = at_set_param("allocated", "0");
	ASSERT_EQ(0, ret) TH_LOG("cycle %d: freeing: %s", i, strerror(-ret));
	ret = at_unload_module();
	ASSERT_EQ(0, ret) TH_LOG("cycle %d: unloading: %s", i, strerror(-ret));
}

/*
 * Loading and unloading a module over and over leaves the area and the
 * per-CPU memory as they were: each unload gives back its range, and the
 * pages behind it.
 */
TEST_F_TIMEOUT(area, cycles, 300)
{
	struct at_area start, end;
	long long percpu_start, percpu_end;
	int i;

	/* A warm-up: the first load may set up what later ones reuse. */
	load_cycle(_metadata, 0, true);
	read_area(_metadata, &start, "after the warm-up");
	percpu_start = at_meminfo_kb("Percpu");
	ASSERT_LE(0, percpu_start) TH_LOG("/proc/meminfo: %s", strerror(-percpu_start));
	TH_LOG("after the warm-up: Percpu %lld kB", percpu_start);
	EXPECT_LE(start.used, start.populated);

	for (i = 1; i <= CYCLES; i++)
		load_cycle(_metadata, i, i % CYCLE_CHECK == 0);

	read_area(_metadata, &end, "after the cycles");
	percpu_end = at_meminfo_kb("Percpu");
	ASSERT_LE(0, percpu_end);
	TH_LOG("after %d cycles: Percpu %lld kB", CYCLES, percpu_end);
	EXPECT_EQ(start.capacity, end.capacity);
	EXPECT_EQ(start.used, end.used);
	EXPECT_EQ(start.populated, end.populated);
	EXPECT_EQ(start.ranges, end.ranges);
	EXPECT_EQ(start.unloaded, end.unloaded);
	EXPECT_LE(percpu_end, percpu_start);
}

/*
 * The test module unloads while the keeper module holds its allocations:
 * its rows stay, exact, and count down to zero as the keeper frees; the
 * next load of the module reclaims them and counts from zero.
 */
TEST_F(area, handoff)
{
	struct at_area loaded, kept, released, reloaded, end;
	struct at_expect e, again;
	long long taint;
	char *log;
	int kmsg, ret;

	ret = at_load_keeper();
	ASSERT_EQ(0, ret) TH_LOG("loading %s: %s", AT_KEEPER_NAME, strerror(-ret));
	load_and_allocate(_metadata, &e);
	ASSERT_EQ(0, at_check_rows(&e, true, why, sizeof(why))) TH_LOG("%s", why);
	read_area(_metadata, &loaded, "loaded");
	EXPECT_EQ(0, loaded.unloaded);

	/* Unload: the allocations go to the keeper, the tags stay. */
	ASSERT_EQ(0, at_set_param("keep", "1"));
	ASSERT_EQ(0, at_set_param("give", "1"));
	taint = at_tainted();
	ASSERT_LE(0, taint);
	EXPECT_EQ(0, at_unload_module_logged(&log));
	ASSERT_NE(NULL, log);
	EXPECT_FALSE(at_module_loaded());
	EXPECT_EQ(0, at_check_kept_log(log, &e, why, sizeof(why))) TH_LOG("%s", why);
	free(log);
	EXPECT_EQ(0, at_tainted() & ~taint & AT_TAINT_WARN)
		TH_LOG("the unload tainted the kernel with a warning");
	EXPECT_EQ(0, at_check_rows(&e, true, why, sizeof(why)))
		TH_LOG("after unload: %s", why);
	read_area(_metadata, &kept, "unloaded, tags kept");
	EXPECT_EQ(1, kept.unloaded);
	EXPECT_EQ(loaded.ranges, kept.ranges);
	EXPECT_EQ(loaded.used, kept.used);

	/* The keeper frees them: the kept rows count down to zero. */
	EXPECT_EQ(e.page_calls + e.kmalloc_calls,
		  at_mod_param(AT_KEEPER_NAME, "held"));
	ASSERT_EQ(0, at_set_mod_param(AT_KEEPER_NAME, "release", "1"));
	EXPECT_EQ(0, at_mod_param(AT_KEEPER_NAME, "held"));
	EXPECT_EQ(0, at_check_rows(&e, false, why, sizeof(why)))
		TH_LOG("after the keeper freed them: %s", why);
	read_area(_metadata, &released, "allocations freed");
	EXPECT_EQ(1, released.unloaded);

	/* The next load reclaims them: one set of rows, from zero. */
	kmsg = at_kmsg_open(false);
	ASSERT_LE(0, kmsg);
	ret = at_load_module();
	log = at_kmsg_read(kmsg);
	close(kmsg);
	ASSERT_EQ(0, ret) TH_LOG("loading again: %s", strerror(-ret));
	ASSERT_NE(NULL, log);
	EXPECT_TRUE(at_log_find_line(log, RECLAIM_MSG, RECLAIM_MSG, NULL, 0))
		TH_LOG("no line '%s' in the kernel log:\n%s", RECLAIM_MSG, log);
	free(log);
	read_area(_metadata, &reloaded, "loaded again");
	EXPECT_EQ(0, reloaded.unloaded);
	EXPECT_EQ(loaded.ranges, reloaded.ranges);
	EXPECT_EQ(loaded.used, reloaded.used);
	/* The same module: its rows are at the lines of the first load. */
	EXPECT_EQ(0, at_check_rows(&e, false, why, sizeof(why)))
		TH_LOG("loaded again: %s", why);

	ASSERT_EQ(0, at_set_param("allocated", "1"));
	ASSERT_EQ(0, at_expectation(&again));
	EXPECT_EQ(e.page_line, again.page_line);
	EXPECT_EQ(e.kmalloc_line, again.kmalloc_line);
	EXPECT_EQ(0, at_check_rows(&again, true, why, sizeof(why)))
		TH_LOG("allocating again: %s", why);
	ASSERT_EQ(0, at_set_param("allocated", "0"));
	EXPECT_EQ(0, at_check_rows(&again, false, why, sizeof(why)))
		TH_LOG("freeing again: %s", why);
	EXPECT_EQ(0, at_unload_module());
	EXPECT_EQ(0, at_unload_module_name(AT_KEEPER_NAME));
	EXPECT_EQ(0, at_read_rows(AT_MOD_NAME, NULL, 0));
	read_area(_metadata, &end, "both unloaded");
	EXPECT_EQ(0, end.unloaded);
}

/*
 * A module whose alloc_tags section asks for an alignment beyond a page
 * is refused, and the area is left as it was.
 */
TEST_F(area, alignment)
{
	long page = sysconf(_SC_PAGESIZE);
	struct at_area before, after;
	char path[1024], msg[256];
	char *log;
	int kmsg, ret;

	read_area(_metadata, &before, "before");
	at_module_file(ALIGN_NAME, path, sizeof(path));
	kmsg = at_kmsg_open(false);
	ASSERT_LE(0, kmsg);
	ret = at_load_module_file(path, "");
	log = at_kmsg_read(kmsg);
	close(kmsg);
	if (!ret)
		at_unload_module_name(ALIGN_NAME);
	EXPECT_EQ(-EINVAL, ret)
		TH_LOG("loading %s: %s", path, ret ? strerror(-ret) : "loaded");
	EXPECT_FALSE(at_module_is_loaded(ALIGN_NAME));
	ASSERT_NE(NULL, log);
	snprintf(msg, sizeof(msg),
		 "alloc_tag: module %s: alloc_tags section alignment %ld is larger than the module tag area supports (%ld)",
		 ALIGN_NAME, 2 * page, page);
	EXPECT_TRUE(at_log_find_line(log, msg, msg, NULL, 0))
		TH_LOG("no line '%s' in the kernel log:\n%s", msg, log);
	free(log);
	read_area(_metadata, &after, "after");
	EXPECT_EQ(before.capacity, after.capacity);
	EXPECT_EQ(before.used, after.used);
	EXPECT_EQ(before.populated, after.populated);
	EXPECT_EQ(before.ranges, after.ranges);
	EXPECT_EQ(before.unloaded, after.unloaded);
}

/* Shared by the boots that disable profiling: noarea and areafull. */

/* Profiling is off for good: vm.mem_profiling reads 0 and cannot be set. */
static void sysctl_locked(struct __test_metadata *_metadata)
{
	/* CONFIG_MEM_ALLOC_PROFILING_DEBUG makes the sysctl 0444: EACCES. */
	int want = at_env_flag("ALLOC_TAG_SYSCTL_RO") ? -EACCES : -EPERM;
	int ret;

	EXPECT_EQ(0, at_sysctl());
	ret = at_write_file(AT_SYSCTL, "1\n");
	EXPECT_EQ(want, ret)
		TH_LOG("writing 1: %s", ret ? strerror(-ret) : "succeeded");
	EXPECT_EQ(0, at_sysctl());
}

/*
 * The test module loads, allocates, frees and unloads as usual. With
 * @allocinfo, /proc/allocinfo is there but has no rows of the module and
 * none of its counters moves.
 */
static void module_works(struct __test_metadata *_metadata, bool allocinfo)
{
	long long bytes[3], calls[3];
	int i, ret;

	if (allocinfo) {
		ret = at_allocinfo_totals(&bytes[0], &calls[0]);
		ASSERT_EQ(0, ret) TH_LOG("%s: %s", AT_ALLOCINFO, strerror(-ret));
	}
	ret = at_load_module();
	ASSERT_EQ(0, ret) TH_LOG("loading %s: %s", at_module_path(), strerror(-ret));
	ret = at_set_param("allocated", "1");
	ASSERT_EQ(0, ret) TH_LOG("allocating: %s", strerror(-ret));
	EXPECT_EQ(1, at_param("allocated"));
	EXPECT_LT(0, at_param("page_line"));
	EXPECT_LT(0, at_param("kmalloc_line"));
	if (allocinfo) {
		struct at_row rows[8];
		int n = at_read_rows(AT_MOD_NAME, rows, 8);

		/* Listed or not, the module's tags count nothing. */
		ASSERT_LE(0, n) TH_LOG("%s: %s", AT_ALLOCINFO, strerror(-n));
		for (i = 0; i < n && i < 8; i++) {
			EXPECT_EQ(0, rows[i].bytes);
			EXPECT_EQ(0, rows[i].calls);
		}
		ASSERT_EQ(0, at_allocinfo_totals(&bytes[1], &calls[1]));
	}
	ret = at_set_param("allocated", "0");
	ASSERT_EQ(0, ret) TH_LOG("freeing: %s", strerror(-ret));
	EXPECT_EQ(0, at_param("allocated"));
	ret = at_unload_module();
	EXPECT_EQ(0, ret) TH_LOG("unloading: %s", strerror(-ret));
	EXPECT_FALSE(at_module_loaded());
	if (!allocinfo)
		return;
	ASSERT_EQ(0, at_allocinfo_totals(&bytes[2], &calls[2]));
	for (i = 0; i < 3; i++)
		TH_LOG("/proc/allocinfo in all, %s: %lld bytes, %lld calls",
		       i == 0 ? "before loading" : i == 1 ? "allocated" : "unloaded",
		       bytes[i], calls[i]);
	for (i = 1; i < 3; i++) {
		EXPECT_EQ(bytes[0], bytes[i]);
		EXPECT_EQ(calls[0], calls[i]);
	}
}

/* The boot with alloc_tag.module_tags=0. */
FIXTURE(noarea) {};

FIXTURE_SETUP(noarea)
{
	const char *skip = skip_reason(EXPECT_NOAREA);

	if (skip)
		SKIP(return, "%s", skip);
	at_module_reset();
}

FIXTURE_TEARDOWN(noarea)
{
	at_module_reset();
}

TEST_F(noarea, boot_message)
{
	char val[64];
	char *log;

	ASSERT_TRUE(at_cmdline_value(TAGS_PARAM, val, sizeof(val)))
		TH_LOG("no %s= on the command line", TAGS_PARAM);
	EXPECT_STREQ("0", val);
	log = at_kernel_log();
	ASSERT_NE(NULL, log);
	EXPECT_TRUE(at_log_find_line(log, NOAREA_MSG, NOAREA_MSG, NULL, 0))
		TH_LOG("no line '%s' in the kernel log", NOAREA_MSG);
	free(log);
}

TEST_F(noarea, no_allocinfo)
{
	int ret = access(AT_ALLOCINFO, F_OK) ? errno : 0;

	EXPECT_EQ(ENOENT, ret)
		TH_LOG("%s: %s", AT_ALLOCINFO, ret ? strerror(ret) : "exists");
}

TEST_F(noarea, sysctl_locked)
{
	sysctl_locked(_metadata);
}

TEST_F(noarea, module_works)
{
	module_works(_metadata, false);
}

/* The boot with alloc_tag.module_tags=1: too small for the test module. */
FIXTURE(areafull) {};

FIXTURE_SETUP(areafull)
{
	const char *skip = skip_reason(EXPECT_AREAFULL);

	if (skip)
		SKIP(return, "%s", skip);
	at_module_reset();
}

FIXTURE_TEARDOWN(areafull)
{
	at_module_reset();
}

/*
 * A load that fails after the loader has laid the module out (here: its
 * arguments cannot be read) leaves profiling on, though the module's tags
 * would not have fitted: only a module that loads may turn profiling off.
 * Runs before the tests below, whose load does turn it off.
 */
TEST_F(areafull, failed_load_keeps_profiling)
{
	static const char *const no_room[] = { NOROOM_MSG, NULL };
	int fd, ret, kmsg;
	char *log;

	ASSERT_EQ(1, at_sysctl()) TH_LOG("profiling is off before the test");
	fd = open(at_module_path(), O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("%s: %s", at_module_path(), strerror(errno));
	kmsg = at_kmsg_open(false);
	ASSERT_LE(0, kmsg);
	/* An argument string at an address that cannot be read. */
	ret = syscall(SYS_finit_module, fd, (const char *)8, 0) ? -errno : 0;
	log = at_kmsg_read(kmsg);
	close(kmsg);
	close(fd);
	if (!ret)
		at_unload_module();
	EXPECT_EQ(-EFAULT, ret)
		TH_LOG("loading with unreadable arguments: %s",
		       ret ? strerror(-ret) : "loaded");
	ASSERT_NE(NULL, log);
	EXPECT_FALSE(at_log_find(log, no_room, why, sizeof(why)))
		TH_LOG("the failed load logged: %s", why);
	free(log);
	EXPECT_EQ(1, at_sysctl());
	if (!at_env_flag("ALLOC_TAG_SYSCTL_RO"))
		EXPECT_EQ(0, at_write_file(AT_SYSCTL, "1\n"));
}

/*
 * Writers switch vm.mem_profiling on and off, as fast as they can, while
 * a load finds no room for the test module's tags and shuts profiling
 * down: once it is down it stays down, whichever write came last. (The
 * check and the switch are serialised with the shutdown; a race test can
 * only make a lost race likely, not certain.)
 */
TEST_F(areafull, shutdown_wins_over_writers)
{
	enum { WRITERS = 2 };
	pid_t pids[WRITERS];
	int i, ret, status;

	if (at_env_flag("ALLOC_TAG_SYSCTL_RO"))
		SKIP(return, "vm.mem_profiling is read-only in this kernel");
	ASSERT_EQ(1, at_sysctl()) TH_LOG("profiling is off before the test");
	for (i = 0; i < WRITERS; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (pids[i] == 0) {
			for (;;)
				at_write_file(AT_SYSCTL, i % 2 ? "0\n" : "1\n");
		}
	}
	usleep(100 * 1000);
	ret = at_load_module();
	usleep(100 * 1000);
	for (i = 0; i < WRITERS; i++) {
		kill(pids[i], SIGKILL);
		waitpid(pids[i], &status, 0);
	}
	ASSERT_EQ(0, ret) TH_LOG("loading %s: %s", at_module_path(), strerror(-ret));
	EXPECT_EQ(0, at_sysctl());
	ret = at_write_file(AT_SYSCTL, "1\n");
	EXPECT_EQ(-EPERM, ret) TH_LOG("writing 1: %s", ret ? strerror(-ret) : "done");
	EXPECT_EQ(0, at_sysctl());
	EXPECT_EQ(0, at_unload_module());
}

/*
 * Loading the test module says its tags do not fit, and in what: "alloc_tag:
 * module alloc_tag_test: no room for <n> bytes of tags in the module tag
 * area (<used> of <capacity> bytes used); disabling memory allocation
 * profiling". The whole log is searched: an earlier test of this boot may
 * have loaded it first.
 */
TEST_F(areafull, no_room_message)
{
	long long tags, need, used, capacity;
	char val[64], found[1024];
	struct at_area a;
	char *log;
	int ret;

	ASSERT_TRUE(at_cmdline_value(TAGS_PARAM, val, sizeof(val)))
		TH_LOG("no %s= on the command line", TAGS_PARAM);
	tags = strtoll(val, NULL, 0);
	ASSERT_LT(0, tags) TH_LOG("%s=%s", TAGS_PARAM, val);
	ret = at_load_module();
	ASSERT_EQ(0, ret) TH_LOG("loading %s: %s", at_module_path(), strerror(-ret));
	log = at_kernel_log();
	ASSERT_NE(NULL, log);
	ret = at_log_find_line(log, NOROOM_MSG, NOROOM_END, found, sizeof(found));
	free(log);
	ASSERT_TRUE(ret) TH_LOG("no line '%s<n> bytes ...%s' in the kernel log",
				NOROOM_MSG, NOROOM_END);
	TH_LOG("%s", found);
	ret = sscanf(found + strlen(NOROOM_MSG),
		     "%lld bytes of tags in the module tag area (%lld of %lld bytes used)",
		     &need, &used, &capacity);
	ASSERT_EQ(3, ret) TH_LOG("%s", found);
	EXPECT_EQ(tags * TAG_BYTES, capacity);
	EXPECT_LE(used, capacity);
	EXPECT_LT(capacity - used, need);
	EXPECT_EQ(0, need % TAG_BYTES);
	read_area(_metadata, &a, "after the load");
	EXPECT_EQ(capacity, a.capacity);
	EXPECT_EQ(0, at_unload_module());
}

TEST_F(areafull, sysctl_locked)
{
	sysctl_locked(_metadata);
}

TEST_F(areafull, module_works_uncounted)
{
	module_works(_metadata, true);
}

/* The boot with room for the test module's tags and one more. */
FIXTURE(areatight) {};

FIXTURE_SETUP(areatight)
{
	const char *skip = skip_reason(EXPECT_AREATIGHT);

	if (skip)
		SKIP(return, "%s", skip);
	at_module_reset();
}

FIXTURE_TEARDOWN(areatight)
{
	if (at_module_is_loaded(ALIGN64_NAME))
		at_unload_module_name(ALIGN64_NAME);
	at_module_reset();
}

/*
 * With the test module's tags in the area, the room left is one tag, at an
 * offset that is not a multiple of 64: the tag of alloc_tag_align64, which
 * asks for that alignment, does not fit there. The module loads with its
 * tags in its own memory and profiling is disabled, with the message that
 * names it ("alloc_tag: module alloc_tag_align64: no room for 40 bytes of
 * tags ..."), as for any module whose tags do not fit.
 */
TEST_F(areatight, aligned_tags_that_do_not_fit)
{
	char path[1024], prefix[128], found[1024];
	struct at_area a;
	int ret, kmsg;
	char *log;

	ASSERT_EQ(1, at_sysctl());
	ret = at_load_module();
	ASSERT_EQ(0, ret) TH_LOG("loading %s: %s", at_module_path(), strerror(-ret));
	read_area(_metadata, &a, "test module loaded");
	ASSERT_EQ(a.used + TAG_BYTES, a.capacity)
		TH_LOG("the boot must leave room for one more tag");
	if (a.used % 64 == 0)
		SKIP(return, "the room left starts at a multiple of 64 bytes");

	at_module_file(ALIGN64_NAME, path, sizeof(path));
	kmsg = at_kmsg_open(false);
	ASSERT_LE(0, kmsg);
	ret = at_load_module_file(path, "");
	log = at_kmsg_read(kmsg);
	close(kmsg);
	EXPECT_EQ(0, ret) TH_LOG("loading %s: %s", path, strerror(-ret));
	ASSERT_NE(NULL, log);
	snprintf(prefix, sizeof(prefix), "alloc_tag: module %s: no room for %d bytes of tags",
		 ALIGN64_NAME, TAG_BYTES);
	EXPECT_TRUE(at_log_find_line(log, prefix, NOROOM_END, found, sizeof(found)))
		TH_LOG("no line '%s ...%s' in the kernel log:\n%s", prefix,
		       NOROOM_END, log);
	free(log);
	EXPECT_EQ(0, at_sysctl());
	if (!ret)
		EXPECT_EQ(0, at_unload_module_name(ALIGN64_NAME));
	EXPECT_EQ(0, at_unload_module());
}

TEST_F(areatight, sysctl_locked)
{
	sysctl_locked(_metadata);
}

TEST_HARNESS_MAIN
