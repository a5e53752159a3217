// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation tags of a module: the rows of the alloc_tag_test module
 * (tests/modules/alloc_tag_test) count exactly what it allocates, go back
 * to zero when it frees, and unloading it with allocations still live is
 * reported without breaking anything.
 *
 * $ALLOC_TAG_AREA=1: the kernel has the module tag area, which keeps the
 * tags of a module unloaded with live allocations (see module_area_test.c);
 * otherwise C 6.12 behaviour is expected, where they go with the module.
 *
 * The module is loaded from /modules/alloc_tag_test.ko (where scripts/boot
 * puts it) or from $ALLOC_TAG_TEST_MODULE; with the area, the keeper module
 * (tests/modules/alloc_tag_keeper) from the same folder.
 */
#include "../kselftest_harness.h"
#include "alloc_tag_util.h"

static char why[2048];

/* Load the module and make its allocations: the start of every test. */
static int load_and_allocate(struct __test_metadata *_metadata,
			     struct at_expect *e)
{
	int ret;

	at_module_reset();
	ret = at_load_module();
	if (ret) {
		TH_LOG("loading %s: %s", at_module_path(), strerror(-ret));
		return -1;
	}
	ret = at_set_param("allocated", "1");
	if (ret) {
		TH_LOG("allocating: %s", strerror(-ret));
		return -1;
	}
	ret = at_expectation(e);
	if (ret) {
		TH_LOG("reading the module's parameters: %s", strerror(-ret));
		return -1;
	}
	TH_LOG("pages: %lld calls, %lld bytes at line %d",
	       e->page_calls, e->page_bytes, e->page_line);
	TH_LOG("kmalloc: %lld calls, %lld bytes at line %d",
	       e->kmalloc_calls, e->kmalloc_bytes, e->kmalloc_line);
	return 0;
}

TEST(allocate_free_exact)
{
	static const char *const unload[] = { "allocated at module unload", NULL };
	static const char *const alive[] = { "still alive", NULL };
	struct at_expect e;
	char *log;

	if (at_sysctl() != 1)
		SKIP(return, "memory allocation profiling is off");
	ASSERT_EQ(0, load_and_allocate(_metadata, &e));
	EXPECT_EQ(0, at_check_rows(&e, true, why, sizeof(why))) TH_LOG("%s", why);

	ASSERT_EQ(0, at_set_param("allocated", "0"));
	EXPECT_EQ(0, at_check_rows(&e, false, why, sizeof(why)))
		TH_LOG("after freeing: %s", why);

	/* The same tags count again, from zero. */
	ASSERT_EQ(0, at_set_param("allocated", "1"));
	EXPECT_EQ(0, at_check_rows(&e, true, why, sizeof(why)))
		TH_LOG("allocating again: %s", why);
	ASSERT_EQ(0, at_set_param("allocated", "0"));
	EXPECT_EQ(0, at_check_rows(&e, false, why, sizeof(why)))
		TH_LOG("freeing again: %s", why);

	/* Unloading with nothing live: clean, quiet, rows gone. */
	ASSERT_EQ(0, at_unload_module_logged(&log));
	ASSERT_NE(NULL, log);
	EXPECT_FALSE(at_log_find(log, unload, why, sizeof(why)))
		TH_LOG("clean unload logged: %s", why);
	EXPECT_FALSE(at_log_find(log, alive, why, sizeof(why)))
		TH_LOG("clean unload logged: %s", why);
	free(log);
	EXPECT_EQ(0, at_read_rows(AT_MOD_NAME, NULL, 0));
}

/*
 * Module code runs before the module's init: a parameter given at load
 * time calls its .set callback from the loader (parse_args()), before the
 * module is even in sysfs. What it allocates there is counted exactly, as
 * in C 6.12, and freeing it later brings the rows back to zero.
 */
TEST(allocated_at_load)
{
	static const char *const unload[] = { "allocated at module unload", NULL };
	struct at_expect e;
	char *log;
	int ret;

	if (at_sysctl() != 1)
		SKIP(return, "memory allocation profiling is off");
	at_module_reset();
	ret = at_load_module_file(at_module_path(), "allocated=1");
	ASSERT_EQ(0, ret) TH_LOG("loading %s allocated=1: %s", at_module_path(),
				 strerror(-ret));
	EXPECT_EQ(1, at_param("allocated"));
	ASSERT_EQ(0, at_expectation(&e));
	EXPECT_EQ(0, at_check_rows(&e, true, why, sizeof(why)))
		TH_LOG("allocated while loading: %s", why);

	ASSERT_EQ(0, at_set_param("allocated", "0"));
	EXPECT_EQ(0, at_check_rows(&e, false, why, sizeof(why)))
		TH_LOG("freed: %s", why);

	/* Nothing in use: a clean unload, and the rows go. */
	ASSERT_EQ(0, at_unload_module_logged(&log));
	ASSERT_NE(NULL, log);
	EXPECT_FALSE(at_log_find(log, unload, why, sizeof(why)))
		TH_LOG("clean unload logged: %s", why);
	free(log);
	EXPECT_EQ(0, at_read_rows(AT_MOD_NAME, NULL, 0));
}

/*
 * C 6.12: the module goes and so do its rows, though its memory is still
 * allocated (and leaked for good); one WARN per tag still in use, naming
 * it and its bytes: "<file>:<line> module <name> func:<func> has <bytes>
 * allocated at module unload".
 */
static void unload_dropping_tags(struct __test_metadata *_metadata,
				 const struct at_expect *e)
{
	char pages[64], objects[64], page_tag[128], kmalloc_tag[128];
	const char *const page_warn[] = {
		page_tag, "module " AT_MOD_NAME " ", "func:" AT_MOD_FUNC " ",
		pages, NULL };
	const char *const kmalloc_warn[] = {
		kmalloc_tag, "module " AT_MOD_NAME " ", "func:" AT_MOD_FUNC " ",
		objects, NULL };
	char *log;
	int n;

	/* The module's exit leaves its allocations live (and leaks them). */
	ASSERT_EQ(0, at_set_param("keep", "1"));

	/* 6.12 lets the module go; only its tags' memory stays behind. */
	EXPECT_EQ(0, at_unload_module_logged(&log));
	ASSERT_NE(NULL, log);
	EXPECT_FALSE(at_module_loaded());

	snprintf(page_tag, sizeof(page_tag), AT_MOD_NAME ".c:%d ", e->page_line);
	snprintf(kmalloc_tag, sizeof(kmalloc_tag), AT_MOD_NAME ".c:%d ",
		 e->kmalloc_line);
	snprintf(pages, sizeof(pages), "has %lld allocated at module unload",
		 e->page_bytes);
	snprintf(objects, sizeof(objects), "has %lld allocated at module unload",
		 e->kmalloc_bytes);
	EXPECT_TRUE(at_log_find(log, page_warn, why, sizeof(why)))
		TH_LOG("no '%s... %s' in the kernel log:\n%s",
		       page_tag, pages, log);
	EXPECT_TRUE(at_log_find(log, kmalloc_warn, why, sizeof(why)))
		TH_LOG("no '%s... %s' in the kernel log:\n%s",
		       kmalloc_tag, objects, log);
	free(log);

	n = at_read_rows(AT_MOD_NAME, NULL, 0);
	EXPECT_EQ(0, n) TH_LOG("%d rows of [%s] after unload", n, AT_MOD_NAME);
}

/*
 * The module tag area: the module goes, its rows stay with their bytes
 * and calls, and the kernel says so (pr_info, no WARN). The allocations go
 * to the keeper module rather than leak, so they can be freed: the rows go
 * to zero and the next load of the module takes their place.
 */
static void unload_keeping_tags(struct __test_metadata *_metadata,
				const struct at_expect *e)
{
	long long taint;
	char *log;
	int ret;

	ret = at_load_keeper();
	ASSERT_EQ(0, ret) TH_LOG("loading %s: %s", AT_KEEPER_NAME, strerror(-ret));
	ASSERT_EQ(0, at_set_param("keep", "1"));
	ASSERT_EQ(0, at_set_param("give", "1"));
	taint = at_tainted();
	ASSERT_LE(0, taint);

	EXPECT_EQ(0, at_unload_module_logged(&log));
	ASSERT_NE(NULL, log);
	EXPECT_FALSE(at_module_loaded());
	EXPECT_EQ(0, at_check_kept_log(log, e, why, sizeof(why))) TH_LOG("%s", why);
	free(log);
	EXPECT_EQ(0, at_tainted() & ~taint & AT_TAINT_WARN)
		TH_LOG("the unload tainted the kernel with a warning");

	/* The rows stay, exact, and still count down when freed. */
	EXPECT_EQ(0, at_check_rows(e, true, why, sizeof(why)))
		TH_LOG("after unload: %s", why);
	EXPECT_EQ(e->page_calls + e->kmalloc_calls,
		  at_mod_param(AT_KEEPER_NAME, "held"));
	ASSERT_EQ(0, at_set_mod_param(AT_KEEPER_NAME, "release", "1"));
	EXPECT_EQ(0, at_check_rows(e, false, why, sizeof(why)))
		TH_LOG("after the keeper freed them: %s", why);
	EXPECT_EQ(0, at_unload_module_name(AT_KEEPER_NAME));
}

TEST(unload_with_live_allocations)
{
	struct at_expect e;
	int n;

	if (at_sysctl() != 1)
		SKIP(return, "memory allocation profiling is off");
	ASSERT_EQ(0, load_and_allocate(_metadata, &e));
	ASSERT_EQ(0, at_check_rows(&e, true, why, sizeof(why))) TH_LOG("%s", why);
	if (at_env_flag("ALLOC_TAG_AREA"))
		unload_keeping_tags(_metadata, &e);
	else
		unload_dropping_tags(_metadata, &e);

	/* /proc/allocinfo is still whole and readable. */
	n = at_read_rows(NULL, NULL, 0);
	EXPECT_LT(0, n) TH_LOG("/proc/allocinfo: %s", strerror(-n));
}

TEST(works_after_leaky_unload)
{
	struct at_expect e;

	if (at_sysctl() != 1)
		SKIP(return, "memory allocation profiling is off");
	/*
	 * Loads the module afresh (after the test above, a second time); with
	 * the module tag area, this load reclaims the rows the test above
	 * kept, so there is one set of rows.
	 */
	ASSERT_EQ(0, load_and_allocate(_metadata, &e));
	EXPECT_EQ(0, at_check_rows(&e, true, why, sizeof(why))) TH_LOG("%s", why);
	ASSERT_EQ(0, at_set_param("allocated", "0"));
	EXPECT_EQ(0, at_check_rows(&e, false, why, sizeof(why)))
		TH_LOG("after freeing: %s", why);
	EXPECT_EQ(0, at_unload_module());
	EXPECT_EQ(0, at_read_rows(AT_MOD_NAME, NULL, 0));
}

TEST_HARNESS_MAIN
