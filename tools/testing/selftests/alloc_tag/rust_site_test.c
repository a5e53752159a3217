// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation tags of Rust call sites: what a Rust module
 * (tests/modules/rust_alloc_site) allocates is counted on its own lines,
 * exactly, with its name and func:(rust); the rows go back to zero when it
 * frees. Its tags are module tags in the module tag area: gone with the
 * module when they count nothing, kept after it while another module
 * (alloc_tag_keeper) holds what it allocated, reclaimed by the next module
 * load once that is freed, like a C module's.
 *
 * $ALLOC_TAG_RUST_SITES=1: the kernel tags Rust call sites; otherwise C
 * 6.12 behaviour is expected, where the module has no rows at all (its
 * allocations are counted on the C helpers' rows, rust/helpers/).
 *
 * The modules are looked for next to the test module (/modules/).
 */
#include "../kselftest_harness.h"
#include "alloc_tag_util.h"

#define RS_NAME		"rust_alloc_site"
#define RS_FILE		RS_NAME ".rs"
#define RS_OBJECTS	16
/* What the module logs at load. */
#define RS_LINES	RS_NAME ": objects at line %d, vector at line %d, " \
			"handed over at line %d"
#define RS_KEPT		"alloc_tag: module " RS_NAME \
			" unloaded with 1 tags in use; keeping its tags"
#define RS_RECLAIMED	"alloc_tag: reclaimed the tags of unloaded module " RS_NAME
/* The lines the module allocates from. */
#define RS_ROWS		3

struct rs_lines {
	int objects, vector, handed;
};

static bool rust_sites(void)
{
	const char *v = getenv("ALLOC_TAG_RUST_SITES");

	return v && !strcmp(v, "1");
}

/*
 * Loads the module and reads its lines from what it logs: 0 or -errno.
 * What the kernel logged meanwhile goes to *@logp unless @logp is NULL.
 */
static int rs_load(struct rs_lines *l, char **logp)
{
	char path[1024], *log, *at, *last = NULL;
	int kmsg = at_kmsg_open(false), ret;

	if (kmsg < 0)
		return -errno;
	ret = at_load_module_file(at_module_file(RS_NAME, path, sizeof(path)), "");
	log = at_kmsg_read(kmsg);
	close(kmsg);
	if (!ret && !log)
		ret = -ENOMEM;
	for (at = log; !ret && (at = strstr(at, RS_NAME ": objects at line")); at++)
		last = at;
	if (!ret && (!last ||
		     sscanf(last, RS_LINES, &l->objects, &l->vector, &l->handed) != 3))
		ret = -EBADMSG;
	if (logp)
		*logp = log;
	else
		free(log);
	return ret;
}

/* The module's row at @line, or NULL; @rows has room for 64. */
static const struct at_row *rs_row(struct at_row *rows, int line)
{
	int n = at_read_rows(RS_NAME, rows, 64);

	return n > 0 ? at_find_row(rows, n < 64 ? n : 64, RS_FILE, line) : NULL;
}

/*
 * The calls of the C helper's row where Rust's krealloc() allocations are
 * counted without Rust call sites: -1 if there is no such row.
 */
static long long rs_helper_calls(void)
{
	static struct at_row rows[AT_SNAP_ROWS];
	int i, n = at_read_rows(NULL, rows, AT_SNAP_ROWS);

	for (i = 0; i < n && i < AT_SNAP_ROWS; i++)
		if (!strcmp(rows[i].func, "rust_helper_krealloc"))
			return rows[i].calls;
	return -1;
}

/* Checks the row at @line: @calls calls of @bytes bytes, func:(rust). */
static int rs_check(struct __test_metadata *_metadata, int line,
		    long long calls, long long bytes, const char *what)
{
	struct at_row rows[64];
	const struct at_row *r = rs_row(rows, line);

	if (!r) {
		TH_LOG("%s: no row at %s:%d [%s]", what, RS_FILE, line, RS_NAME);
		return -1;
	}
	if ((long long)r->calls != calls || r->bytes != bytes ||
	    strcmp(r->func, "(rust)")) {
		TH_LOG("%s: %lld bytes, %llu calls, func:%s at line %d; want %lld, %lld, (rust)",
		       what, r->bytes, r->calls, r->func, line, bytes, calls);
		return -1;
	}
	return 0;
}

TEST(module_lines_count_exactly)
{
	long long object = at_slab_size(1024), vector = at_slab_size(128);
	long long helper;
	struct rs_lines l;
	int ret;

	if (at_sysctl() != 1)
		SKIP(return, "memory allocation profiling is off");
	at_unload_module_name(RS_NAME);
	helper = rs_helper_calls();
	ASSERT_LE(0, helper) TH_LOG("no row of rust_helper_krealloc");
	ret = rs_load(&l, NULL);
	ASSERT_EQ(0, ret) TH_LOG("loading %s: %s", RS_NAME, strerror(-ret));
	if (!rust_sites()) {
		/*
		 * C 6.12: no row of the module's own; its 18 objects are
		 * counted on the helper's row.
		 */
		EXPECT_EQ(0, at_read_rows(RS_NAME, NULL, 0));
		EXPECT_EQ(helper + RS_OBJECTS + 2, rs_helper_calls());
		ASSERT_EQ(0, at_unload_module_name(RS_NAME));
		return;
	}
	/* None of them on the helper's row. */
	EXPECT_EQ(helper, rs_helper_calls());
	/* kmalloc-1k for the 1000-byte objects, kmalloc-128 for 16 pointers. */
	EXPECT_EQ(0, rs_check(_metadata, l.objects, RS_OBJECTS,
			      RS_OBJECTS * object, "objects"));
	EXPECT_EQ(0, rs_check(_metadata, l.vector, 1, vector, "vector"));
	EXPECT_EQ(0, rs_check(_metadata, l.handed, 1, object, "handed over"));
	EXPECT_EQ(RS_ROWS, at_read_rows(RS_NAME, NULL, 0));
	/* Without the keeper it frees everything: its tags go with it. */
	at_unload_keeper();
	ASSERT_EQ(0, at_unload_module_name(RS_NAME));
	EXPECT_EQ(0, at_read_rows(RS_NAME, NULL, 0));
}

/* Unloads the module: 0 or -errno; what the kernel logged in *@log. */
static int rs_unload_logged(char **log)
{
	int kmsg = at_kmsg_open(false), ret;

	*log = NULL;
	if (kmsg < 0)
		return -errno;
	ret = at_unload_module_name(RS_NAME);
	*log = at_kmsg_read(kmsg);
	close(kmsg);
	return ret;
}

/* Whether @log has the line @want. */
static bool rs_logged(const char *log, const char *want)
{
	return log && at_log_find_line(log, want, want, NULL, 0);
}

TEST(rows_outlive_the_module)
{
	long long object = at_slab_size(1024);
	struct rs_lines l, again;
	char *log;
	int ret;

	if (at_sysctl() != 1)
		SKIP(return, "memory allocation profiling is off");
	if (!rust_sites())
		SKIP(return, "the kernel does not tag Rust call sites");
	at_unload_module_name(RS_NAME);
	ret = at_load_keeper();
	ASSERT_EQ(0, ret) TH_LOG("loading %s: %s", AT_KEEPER_NAME, strerror(-ret));
	ASSERT_EQ(0, at_set_mod_param(AT_KEEPER_NAME, "release", "1"));
	ret = rs_load(&l, NULL);
	ASSERT_EQ(0, ret) TH_LOG("loading %s: %s", RS_NAME, strerror(-ret));

	/* Unloaded, one object with the keeper: the tags stay, exact. */
	EXPECT_EQ(0, rs_unload_logged(&log));
	EXPECT_TRUE(rs_logged(log, RS_KEPT))
		TH_LOG("no line '%s' in the kernel log:\n%s", RS_KEPT, log);
	free(log);
	EXPECT_EQ(1, at_mod_param(AT_KEEPER_NAME, "held"));
	EXPECT_EQ(RS_ROWS, at_read_rows(RS_NAME, NULL, 0));
	EXPECT_EQ(0, rs_check(_metadata, l.objects, 0, 0, "objects, unloaded"));
	EXPECT_EQ(0, rs_check(_metadata, l.vector, 0, 0, "vector, unloaded"));
	EXPECT_EQ(0, rs_check(_metadata, l.handed, 1, object, "handed over, unloaded"));

	/* The keeper frees it: the kept row counts down to zero. */
	ASSERT_EQ(0, at_set_mod_param(AT_KEEPER_NAME, "release", "1"));
	EXPECT_EQ(0, rs_check(_metadata, l.handed, 0, 0, "handed over, freed"));

	/* Loaded again, it reclaims them: one set of rows, counting anew. */
	ret = rs_load(&again, &log);
	ASSERT_EQ(0, ret) TH_LOG("loading %s again: %s", RS_NAME, strerror(-ret));
	EXPECT_TRUE(rs_logged(log, RS_RECLAIMED))
		TH_LOG("no line '%s' in the kernel log", RS_RECLAIMED);
	free(log);
	EXPECT_EQ(l.objects, again.objects);
	EXPECT_EQ(RS_ROWS, at_read_rows(RS_NAME, NULL, 0));
	EXPECT_EQ(0, rs_check(_metadata, l.objects, RS_OBJECTS,
			      RS_OBJECTS * object, "objects, loaded again"));
	EXPECT_EQ(0, rs_check(_metadata, l.handed, 1, object,
			      "handed over, loaded again"));

	/* Without the keeper nothing outlives it. */
	EXPECT_EQ(0, at_unload_keeper());
	ASSERT_EQ(0, at_unload_module_name(RS_NAME));
	EXPECT_EQ(0, at_read_rows(RS_NAME, NULL, 0));
}

TEST_HARNESS_MAIN
