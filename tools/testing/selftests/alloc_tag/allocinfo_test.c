// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/allocinfo: its format, that its counters follow memory a test
 * allocates and frees, and that vm.mem_profiling stops and restarts them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "alloc_tag_util.h"

#define ALLOCINFO	"/proc/allocinfo"
#define SYSCTL		"/proc/sys/vm/mem_profiling"

/* Memory the tests fault in: large against the guest's background noise. */
#define TEST_BYTES	(64L << 20)
/* How much of TEST_BYTES must show up (page tables etc. add, noise blurs). */
#define SEEN_BYTES	(TEST_BYTES / 8 * 7)

/*
 * Sum the bytes of every row. With @why non-NULL, also check every line's
 * format and store the first problem there (or leave it empty).
 */
static long long allocinfo_total(char *why, size_t why_len)
{
	char line[4096];
	long long total = 0;
	int nr = 0;
	FILE *f;

	if (why)
		why[0] = '\0';
	f = fopen(ALLOCINFO, "r");
	if (!f) {
		snprintf(why ?: line, why ? why_len : sizeof(line),
			 "open: %s", strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		long long bytes;
		unsigned long long calls;
		char tag[2048], rest[2048];
		int used = 0;

		nr++;
		if (nr == 1 || nr == 2) {
			const char *want = nr == 1 ?
				"allocinfo - version: 1.0\n" :
				"#     <size>  <calls> <tag info>\n";

			if (why && !why[0] && strcmp(line, want))
				snprintf(why, why_len, "header line %d: '%s'",
					 nr, line);
			continue;
		}
		if (sscanf(line, "%lld %llu %2047s %n", &bytes, &calls, tag,
			   &used) != 3) {
			if (why && !why[0])
				snprintf(why, why_len, "row %d: '%s'", nr, line);
			continue;
		}
		total += bytes;
		if (!why || why[0])
			continue;
		/* file:line, an optional [module], func:name, a space, a newline. */
		const char *colon = strrchr(tag, ':');
		const char *p = line + used;

		if (!colon || colon == tag || !colon[1] ||
		    strspn(colon + 1, "0123456789") != strlen(colon + 1)) {
			snprintf(why, why_len, "row %d file:line: '%s'", nr, line);
			continue;
		}
		if (*p == '[') {
			const char *end = strchr(p, ']');

			if (!end || end == p + 1 || end[1] != ' ') {
				snprintf(why, why_len, "row %d module: '%s'", nr, line);
				continue;
			}
			p = end + 2;
		}
		if (sscanf(p, "func:%2047s%2047[^\n]", tag, rest) != 2 ||
		    strcmp(rest, " ")) {
			snprintf(why, why_len, "row %d func: '%s'", nr, line);
			continue;
		}
		/*
		 * Calls and bytes agree in sign (both zero or both positive);
		 * calls never "negative".
		 */
		if (bytes < 0 || !bytes != !calls || calls > (1ULL << 62)) {
			snprintf(why, why_len, "row %d counters: '%s'", nr, line);
			continue;
		}
	}
	fclose(f);
	if (why && !why[0] && nr < 3)
		snprintf(why, why_len, "only %d lines", nr);
	return total;
}

/* Fault in TEST_BYTES of anonymous memory. */
static char *grab(void)
{
	char *p = mmap(NULL, TEST_BYTES, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memset(p, 0x5a, TEST_BYTES);
	return p;
}

static int read_sysctl(void)
{
	char c = 0;
	int fd = open(SYSCTL, O_RDONLY);

	if (fd < 0)
		return -errno;
	if (read(fd, &c, 1) != 1)
		c = 0;
	close(fd);
	return c == '1' ? 1 : c == '0' ? 0 : -EINVAL;
}

static int write_sysctl(int on)
{
	int fd = open(SYSCTL, O_WRONLY);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, on ? "1\n" : "0\n", 2) != 2)
		ret = -errno;
	close(fd);
	return ret;
}

TEST(mode_is_0400)
{
	struct stat st;

	ASSERT_EQ(0, stat(ALLOCINFO, &st));
	EXPECT_EQ(0400, st.st_mode & 07777);
}

TEST(format)
{
	char why[4200];

	ASSERT_LE(0, allocinfo_total(why, sizeof(why))) TH_LOG("%s", why);
	EXPECT_STREQ("", why);
}

TEST(total_follows_allocations)
{
	long long before, during, after;
	char *p;

	if (read_sysctl() != 1)
		SKIP(return, "memory allocation profiling is off");
	before = allocinfo_total(NULL, 0);
	p = grab();
	ASSERT_NE(NULL, p);
	during = allocinfo_total(NULL, 0);
	munmap(p, TEST_BYTES);
	after = allocinfo_total(NULL, 0);
	TH_LOG("total: %lld before, %lld with 64 MiB faulted in, %lld after",
	       before, during, after);
	EXPECT_GE(during - before, SEEN_BYTES);
	EXPECT_GE(during - after, SEEN_BYTES);
}

TEST(sysctl_toggles_counting)
{
	long long t0, t1, t2;
	int was = read_sysctl();
	char *p;

	ASSERT_LE(0, was);
	if (access(SYSCTL, W_OK) || write_sysctl(was)) {
		/* Booted with =never, or a debug kernel: read-only. */
		SKIP(return, "%s is read-only", SYSCTL);
	}

	ASSERT_EQ(0, write_sysctl(0));
	EXPECT_EQ(0, read_sysctl());
	t0 = allocinfo_total(NULL, 0);
	p = grab();
	t1 = allocinfo_total(NULL, 0);
	if (p)
		munmap(p, TEST_BYTES);
	TH_LOG("off: %lld before, %lld with 64 MiB faulted in", t0, t1);
	EXPECT_LT(llabs(t1 - t0), TEST_BYTES / 8);

	ASSERT_EQ(0, write_sysctl(1));
	EXPECT_EQ(1, read_sysctl());
	p = grab();
	t2 = allocinfo_total(NULL, 0);
	if (p)
		munmap(p, TEST_BYTES);
	TH_LOG("on: %lld with 64 MiB faulted in", t2);
	EXPECT_GE(t2 - t1, SEEN_BYTES);

	write_sysctl(was);
}

/*
 * show_mem() (here from sysrq 'm') ends with "Memory allocations:" and the
 * tags with the most bytes, at most 10: "<size> <calls> <file>:<line>
 * [<module>] func:<function>", the size in human units, each a call site
 * of /proc/allocinfo.
 */
TEST(show_mem_lists_top_users)
{
	struct at_row *rows = calloc(4096, sizeof(*rows));
	int n, kmsg, shown = 0, i;
	const char *line, *start;
	char *log;

	ASSERT_NE(NULL, rows);
	n = at_read_rows(NULL, rows, 4096);
	ASSERT_LT(0, n) TH_LOG("%s: %s", ALLOCINFO, strerror(-n));
	kmsg = at_kmsg_open(false);
	ASSERT_LE(0, kmsg);
	ASSERT_EQ(0, at_write_file("/proc/sysrq-trigger", "m"));
	log = at_kmsg_read(kmsg);
	close(kmsg);
	ASSERT_NE(NULL, log);
	start = strstr(log, "\nMemory allocations:\n");
	ASSERT_NE(NULL, start) TH_LOG("no 'Memory allocations:' line:\n%.2000s", log);
	for (line = start + strlen("\nMemory allocations:\n"); *line; ) {
		const char *end = strchr(line, '\n');
		char text[2048], unit[8], file[1024], func[512];
		unsigned long long calls;
		double size;
		int lineno, found = 0;

		snprintf(text, sizeof(text), "%.*s",
			 (int)(end ? end - line : (long)strlen(line)), line);
		line = end ? end + 1 : line + strlen(line);
		/* "<number> <unit>" for the size, or "<n> B". */
		if (sscanf(text, "%lf %7s %llu %1023[^:]:%d", &size, unit, &calls,
			   file, &lineno) != 5)
			break;
		if (!strstr(text, " func:") ||
		    sscanf(strstr(text, " func:"), " func:%511s", func) != 1)
			break;
		EXPECT_TRUE(!strcmp(unit, "B") || !strcmp(unit, "KiB") ||
			    !strcmp(unit, "MiB") || !strcmp(unit, "GiB"))
			TH_LOG("size unit of '%s'", text);
		for (i = 0; i < n && i < 4096 && !found; i++)
			found = rows[i].line == lineno && !strcmp(rows[i].file, file) &&
				!strcmp(rows[i].func, func);
		EXPECT_TRUE(found) TH_LOG("not a call site of %s: %s", ALLOCINFO, text);
		shown++;
	}
	EXPECT_LT(0, shown) TH_LOG("no row after 'Memory allocations:'");
	EXPECT_GE(10, shown);
	free(log);
	free(rows);
}

TEST_HARNESS_MAIN
