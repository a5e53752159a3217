// SPDX-License-Identifier: GPL-2.0
/*
 * The allocinfo tool (tools/mm/allocinfo, /bin/allocinfo in the guest) on
 * the live /proc/allocinfo: a diff of the file before and after loading
 * the alloc_tag_test module and making its allocations shows exactly the
 * module's rows with their bytes and calls; top shows the same rows as the
 * file, through the ioctls and as text alike; a malformed file is refused
 * naming its line; watch records snapshots.
 *
 * $ALLOCINFO: the tool (default /bin/allocinfo).
 */
#include <sys/wait.h>
#include "../kselftest_harness.h"
#include "alloc_tag_util.h"

#define BEFORE	"/tmp/allocinfo_tool.before"
#define AFTER	"/tmp/allocinfo_tool.after"

static const char *tool(void)
{
	const char *t = getenv("ALLOCINFO");

	return t && *t ? t : "/bin/allocinfo";
}

/* Runs @args with the tool, stderr with stdout: its exit status, or -1. */
static int run_tool(const char *args, char *out, size_t len)
{
	char cmd[1024];
	size_t n = 0, got;
	FILE *p;
	int status;

	snprintf(cmd, sizeof(cmd), "%s %s 2>&1", tool(), args);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while (n + 1 < len && (got = fread(out + n, 1, len - 1 - n, p)) > 0)
		n += got;
	out[n] = '\0';
	status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Copies /proc/allocinfo to @path: 0 or -errno. */
static int snapshot(const char *path)
{
	char buf[65536];
	size_t n;
	int ret = 0;
	FILE *in = fopen(AT_ALLOCINFO, "r"), *out;

	if (!in)
		return -errno;
	out = fopen(path, "w");
	if (!out) {
		ret = -errno;
		fclose(in);
		return ret;
	}
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			ret = -EIO;
	fclose(in);
	if (fclose(out))
		ret = -EIO;
	return ret;
}

/* The row of @rows (of @n) at @line, or NULL. */
static const struct at_row *row_at(const struct at_row *rows, int n, int line)
{
	for (int i = 0; i < n; i++)
		if (rows[i].line == line)
			return &rows[i];
	return NULL;
}

FIXTURE(tool) {
	struct at_expect e;
};

FIXTURE_SETUP(tool)
{
	int ret;

	if (access(tool(), X_OK))
		SKIP(return, "no %s", tool());
	if (at_sysctl() != 1)
		SKIP(return, "memory allocation profiling is off");
	at_module_reset();
	ASSERT_EQ(0, snapshot(BEFORE));
	ret = at_load_module();
	ASSERT_EQ(0, ret) TH_LOG("loading %s: %s", at_module_path(), strerror(-ret));
	ASSERT_EQ(0, at_set_param("allocated", "1"));
	ASSERT_EQ(0, at_expectation(&self->e));
	ASSERT_EQ(0, snapshot(AFTER));
}

FIXTURE_TEARDOWN(tool)
{
	if (at_module_loaded()) {
		at_set_param("allocated", "0");
		at_unload_module();
	}
	unlink(BEFORE);
	unlink(AFTER);
}

/*
 * The leak hunter's view: what the module's load and allocations changed,
 * filtered to the module, is exactly its rows, each new, with the bytes
 * and calls the file shows and the module's own figures for its two
 * allocation sites.
 */
TEST_F(tool, diff_shows_exactly_the_module_rows)
{
	static char out[65536];
	struct at_row rows[64];
	long long db, dc, now, sum = 0;
	int n, seen = 0, line;
	char *l, *save;

	n = at_read_rows(AT_MOD_NAME, rows, 64);
	ASSERT_GT(n, 0);
	ASSERT_LE(n, 64);
	ASSERT_EQ(0, run_tool("diff --bytes --module " AT_MOD_NAME " " BEFORE " " AFTER,
			      out, sizeof(out))) TH_LOG("%s", out);
	for (l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		const struct at_row *r;
		char *colon;

		if (sscanf(l, "%lld %lld %lld", &db, &dc, &now) != 3)
			continue;
		colon = strstr(l, ".c:");
		ASSERT_NE(NULL, colon) TH_LOG("row without a file: %s", l);
		line = atoi(colon + 3);
		r = row_at(rows, n, line);
		ASSERT_NE(NULL, r) TH_LOG("not a row of the module: %s", l);
		EXPECT_EQ(r->bytes, db) TH_LOG("%s", l);
		EXPECT_EQ((long long)r->calls, dc) TH_LOG("%s", l);
		EXPECT_EQ(r->bytes, now) TH_LOG("%s", l);
		EXPECT_NE(NULL, strstr(l, "[" AT_MOD_NAME "]")) TH_LOG("%s", l);
		EXPECT_NE(NULL, strstr(l, "(new)")) TH_LOG("%s", l);
		if (line == self->e.page_line) {
			EXPECT_EQ(self->e.page_bytes, db);
			EXPECT_EQ(self->e.page_calls, dc);
		}
		if (line == self->e.kmalloc_line) {
			EXPECT_EQ(self->e.kmalloc_bytes, db);
			EXPECT_EQ(self->e.kmalloc_calls, dc);
		}
		seen += line == self->e.page_line || line == self->e.kmalloc_line;
		sum += db;
	}
	EXPECT_EQ(2, seen) TH_LOG("the page and kmalloc rows are not both in the diff");
	/* Every row of the module that counts something, no other. */
	for (int i = 0; i < n; i++)
		if (rows[i].bytes || rows[i].calls)
			sum -= rows[i].bytes;
	EXPECT_EQ(0, sum);
}

/* top over the live file shows the module's rows as the file has them. */
TEST_F(tool, top_matches_the_file)
{
	static char out[65536];
	struct at_row rows[64];
	long long bytes;
	unsigned long long calls;
	int n, shown = 0;
	char *l, *save;

	n = at_read_rows(AT_MOD_NAME, rows, 64);
	ASSERT_GT(n, 0);
	ASSERT_EQ(0, run_tool("top --bytes --sort name --module " AT_MOD_NAME,
			      out, sizeof(out))) TH_LOG("%s", out);
	for (l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		const struct at_row *r;
		char *colon = strstr(l, ".c:");

		if (!colon || sscanf(l, "%lld %llu", &bytes, &calls) != 2)
			continue;
		r = row_at(rows, n, atoi(colon + 3));
		ASSERT_NE(NULL, r) TH_LOG("not a row of the module: %s", l);
		EXPECT_EQ(r->bytes, bytes) TH_LOG("%s", l);
		EXPECT_EQ(r->calls, calls) TH_LOG("%s", l);
		shown++;
	}
	EXPECT_EQ(n, shown) TH_LOG("top shows %d rows of the module, the file %d", shown, n);
}

/* Rows of @out ("<bytes> <calls> ...<file>.c:<line> ..."), at most @max. */
static int tool_rows(char *out, long long *bytes, unsigned long long *calls,
		     int *lines, int max)
{
	char *l, *save, *colon;
	int n = 0;

	for (l = strtok_r(out, "\n", &save); l && n < max; l = strtok_r(NULL, "\n", &save)) {
		colon = strstr(l, ".c:");
		if (!colon || sscanf(l, "%lld %llu", &bytes[n], &calls[n]) != 2)
			continue;
		lines[n++] = atoi(colon + 3);
	}
	return n;
}

/*
 * Reading /proc/allocinfo through its ioctls (the default where the kernel
 * has them) and as text (--text) gives the same rows.
 */
TEST_F(tool, ioctls_and_text_agree)
{
	static char a[65536], b[65536];
	long long ba[64], bb[64];
	unsigned long long ca[64], cb[64];
	int la[64], lb[64], na, nb;

	ASSERT_EQ(0, run_tool("top --bytes --sort name --module " AT_MOD_NAME, a, sizeof(a)))
		TH_LOG("%s", a);
	ASSERT_EQ(0, run_tool("top --text --bytes --sort name --module " AT_MOD_NAME, b,
			      sizeof(b))) TH_LOG("%s", b);
	na = tool_rows(a, ba, ca, la, 64);
	nb = tool_rows(b, bb, cb, lb, 64);
	ASSERT_LT(0, na);
	ASSERT_EQ(na, nb);
	for (int i = 0; i < na; i++) {
		EXPECT_EQ(lb[i], la[i]);
		EXPECT_EQ(bb[i], ba[i]);
		EXPECT_EQ(cb[i], ca[i]);
	}
}

/* A malformed snapshot is refused with the number of its bad line. */
TEST_F(tool, malformed_file_names_the_line)
{
	static char out[4096];
	FILE *f = fopen(BEFORE, "w");

	ASSERT_NE(NULL, f);
	fputs("allocinfo - version: 1.0\n#     <size>  <calls> <tag info>\n", f);
	fputs("4096 1 mm/x.c:1 func:f\nnot a row\n", f);
	ASSERT_EQ(0, fclose(f));
	EXPECT_EQ(2, run_tool("top " BEFORE, out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "line 4: 'not' is not a byte count")) TH_LOG("%s", out);
}

/* watch takes snapshots of the live file and records each one. */
TEST_F(tool, watch_records_snapshots)
{
	static char out[65536];
	char line[256];
	int records = 0;
	FILE *f;

	unlink(BEFORE);
	ASSERT_EQ(0, run_tool("watch --interval 0.2 --count 3 --record " BEFORE,
			      out, sizeof(out))) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "after ")) TH_LOG("%s", out);
	f = fopen(BEFORE, "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f))
		records += !strncmp(line, "# allocinfo-record time:", 24);
	fclose(f);
	EXPECT_EQ(3, records);
}

TEST_HARNESS_MAIN
