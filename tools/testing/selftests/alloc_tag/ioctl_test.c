// SPDX-License-Identifier: GPL-2.0
/*
 * The ioctls of /proc/allocinfo (include/uapi/linux/alloc_tag.h): a walk
 * gives the rows of the file, every filter takes what it says, the content
 * id changes when a module's tags come or go, bad arguments get upstream's
 * errors, and walks stay sound while modules load and unload. Skipped on a
 * kernel without the ioctls (6.12's C).
 *
 * Upstream's own test (allocinfo_ioctl_test of 7.3's
 * tools/testing/selftests/alloc_tag, built against this tree's header) is
 * run too when the guest has it, at /kselftest-upstream/ or
 * $ALLOC_TAG_UPSTREAM_IOCTL_TEST.
 */
#include <signal.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <linux/alloc_tag.h>
#include "../kselftest_harness.h"
#include "alloc_tag_util.h"

#define UPSTREAM_TEST	"/kselftest-upstream/allocinfo_ioctl_test"
#define MAX_TAGS	8192

static int open_allocinfo(void)
{
	return open(AT_ALLOCINFO, O_RDONLY | O_CLOEXEC);
}

/* Whether the kernel has the ioctls: CONTENT_ID is not refused. */
static bool have_ioctls(void)
{
	struct allocinfo_content_id id;
	int fd = open_allocinfo();
	bool ok;

	if (fd < 0)
		return false;
	ok = ioctl(fd, ALLOCINFO_IOC_CONTENT_ID, &id) == 0 || errno != ENOTTY;
	close(fd);
	return ok;
}

static __u64 content_id(int fd)
{
	struct allocinfo_content_id id = { .id = ~0ULL };

	if (ioctl(fd, ALLOCINFO_IOC_CONTENT_ID, &id))
		return ~0ULL;
	return id.id;
}

/* The name as the uapi gives it: its last ALLOCINFO_STR_SIZE - 1 bytes. */
static const char *suffix(const char *s)
{
	size_t len = strlen(s);

	return len >= ALLOCINFO_STR_SIZE ? s + len - (ALLOCINFO_STR_SIZE - 1) : s;
}

static void set_name(char *field, const char *name)
{
	const char *s = suffix(name);

	memset(field, 0, ALLOCINFO_STR_SIZE);
	memcpy(field, s, strlen(s));
}

/*
 * Walks every tag @filter takes (NULL: all) with GET_AT 0 then GET_NEXT
 * until ENOENT; stores at most @max in @out. Returns how many, or -errno of
 * the first other failure.
 */
static int walk(int fd, const struct allocinfo_filter *filter,
		struct allocinfo_tag_data *out, int max)
{
	struct allocinfo_get_at at = { .pos = 0 };
	struct allocinfo_tag_data d;
	int n = 0;

	if (filter)
		at.filter = *filter;
	if (ioctl(fd, ALLOCINFO_IOC_GET_AT, &at))
		return errno == ENOENT ? 0 : -errno;
	if (n < max)
		out[n] = at.data;
	n++;
	while (!ioctl(fd, ALLOCINFO_IOC_GET_NEXT, &d)) {
		if (n < max)
			out[n] = d;
		n++;
	}
	return errno == ENOENT ? n : -errno;
}

/* Whether @d names the call site of @r. */
static bool same_site(const struct allocinfo_tag_data *d, const struct at_row *r)
{
	return d->tag.lineno == (__u64)r->line &&
	       !strcmp(d->tag.filename, suffix(r->file)) &&
	       !strcmp(d->tag.function, suffix(r->func)) &&
	       !strcmp(d->tag.modname, suffix(r->module));
}

FIXTURE(ioctl) {
	int fd;
	struct allocinfo_tag_data *tags;
	struct at_row *rows;
};

FIXTURE_SETUP(ioctl)
{
	self->fd = -1;
	self->tags = calloc(MAX_TAGS, sizeof(*self->tags));
	self->rows = calloc(MAX_TAGS, sizeof(*self->rows));
	ASSERT_NE(NULL, self->tags);
	ASSERT_NE(NULL, self->rows);
	if (access(AT_ALLOCINFO, R_OK))
		SKIP(return, "no " AT_ALLOCINFO);
	if (!have_ioctls())
		SKIP(return, "the kernel has no /proc/allocinfo ioctls");
	self->fd = open_allocinfo();
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(ioctl)
{
	if (self->fd >= 0)
		close(self->fd);
	free(self->tags);
	free(self->rows);
	at_module_reset();
}

/* Upstream's kselftest of the interface, built from 7.3's tree. */
TEST_F(ioctl, upstream_kselftest)
{
	const char *t = getenv("ALLOC_TAG_UPSTREAM_IOCTL_TEST");
	int status;

	if (!t || !*t)
		t = UPSTREAM_TEST;
	char line[512];
	FILE *p;

	if (access(t, X_OK))
		SKIP(return, "no %s (7.3's tree was not at hand)", t);
	/* Its TAP lines as comments: they are not results of this test. */
	p = popen(t, "r");
	ASSERT_NE(NULL, p);
	while (fgets(line, sizeof(line), p))
		printf("#   %s", line);
	status = pclose(p);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("%s failed", t);
}

/* A walk with no filter gives the file's rows, in the file's order. */
TEST_F(ioctl, walk_gives_the_rows_of_the_file)
{
	__u64 id;
	int n, rows, tries;

	for (tries = 0; tries < 5; tries++) {
		id = content_id(self->fd);
		rows = at_read_rows(NULL, self->rows, MAX_TAGS);
		n = walk(self->fd, NULL, self->tags, MAX_TAGS);
		if (content_id(self->fd) == id)
			break;
	}
	ASSERT_LT(0, rows);
	ASSERT_LE(rows, MAX_TAGS);
	ASSERT_EQ(rows, n);
	for (int i = 0; i < n; i++) {
		const struct allocinfo_tag_data *t = &self->tags[i];
		const struct at_row *r = &self->rows[i];

		ASSERT_TRUE(same_site(t, r))
			TH_LOG("tag %d: %s:%llu %s, file %s:%d %s", i,
			       t->tag.filename, (unsigned long long)t->tag.lineno,
			       t->tag.function, r->file, r->line, r->func);
		/* Tags other tests made miss counts may be marked. */
		EXPECT_GE(1, t->counter.accurate);
	}
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * What a tag costs to read, by ioctl and as text (under QEMU -icount a
 * guest nanosecond is an instruction: scripts/boot --icount). Reported, not
 * judged; the walk must see as many tags as the file has rows.
 */
TEST_F(ioctl, cost_per_tag)
{
	static char buf[1 << 16];
	long long t0, t1, t2;
	int rows = 0, n, fd;
	ssize_t got;

	t0 = now_ns();
	fd = open_allocinfo();
	ASSERT_LE(0, fd);
	while ((got = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < got; i++)
			rows += buf[i] == '\n';
	close(fd);
	t1 = now_ns();
	n = walk(self->fd, NULL, self->tags, MAX_TAGS);
	t2 = now_ns();
	rows -= 2;	/* the header */
	ASSERT_LT(0, n);
	EXPECT_EQ(rows, n);
	TH_LOG("per tag: %lld ns reading the file (%d rows), %lld ns by ioctl (%d tags)",
	       (t1 - t0) / rows, rows, (t2 - t1) / n, n);
}

/* Every criterion, on the alloc_tag_test module's rows. */
TEST_F(ioctl, each_filter_takes_what_it_says)
{
	struct allocinfo_filter f;
	struct at_expect e;
	const struct at_row *page = NULL, *kmalloc = NULL;
	int rows, n, all, kernel_rows = 0;

	at_module_reset();
	ASSERT_EQ(0, at_load_module());
	ASSERT_EQ(0, at_set_param("allocated", "1"));
	ASSERT_EQ(0, at_expectation(&e));
	rows = at_read_rows(AT_MOD_NAME, self->rows, MAX_TAGS);
	ASSERT_LT(0, rows);
	for (int i = 0; i < rows; i++) {
		if (self->rows[i].line == e.page_line)
			page = &self->rows[i];
		if (self->rows[i].line == e.kmalloc_line)
			kmalloc = &self->rows[i];
	}
	ASSERT_NE(NULL, page);
	ASSERT_NE(NULL, kmalloc);

	/* The module: exactly its rows. */
	memset(&f, 0, sizeof(f));
	f.mask = ALLOCINFO_FILTER_MASK_MODNAME;
	set_name(f.fields.modname, AT_MOD_NAME);
	n = walk(self->fd, &f, self->tags, MAX_TAGS);
	ASSERT_EQ(rows, n);
	for (int i = 0; i < n; i++)
		EXPECT_TRUE(same_site(&self->tags[i], &self->rows[i]));

	/* Its file: a path longer than a field, compared by suffix. */
	EXPECT_LE(ALLOCINFO_STR_SIZE, strlen(page->file))
		TH_LOG("the module's path is short: the suffix is not tested");
	f.mask = ALLOCINFO_FILTER_MASK_FILENAME;
	set_name(f.fields.filename, page->file);
	EXPECT_EQ(rows, walk(self->fd, &f, self->tags, MAX_TAGS));

	/* Its function and a line: the page row, with its exact figures. */
	f.mask = ALLOCINFO_FILTER_MASK_FUNCTION | ALLOCINFO_FILTER_MASK_LINENO |
		 ALLOCINFO_FILTER_MASK_MODNAME;
	set_name(f.fields.function, page->func);
	f.fields.lineno = e.page_line;
	ASSERT_EQ(1, walk(self->fd, &f, self->tags, MAX_TAGS));
	EXPECT_EQ(e.page_bytes, (long long)self->tags[0].counter.bytes);
	EXPECT_EQ(e.page_calls, (long long)self->tags[0].counter.calls);

	/* Sizes, both bounds inclusive: the kmalloc row alone. */
	f.mask = ALLOCINFO_FILTER_MASK_MODNAME | ALLOCINFO_FILTER_MASK_MIN_SIZE |
		 ALLOCINFO_FILTER_MASK_MAX_SIZE;
	f.min_size = e.kmalloc_bytes;
	f.max_size = e.kmalloc_bytes;
	ASSERT_EQ(1, walk(self->fd, &f, self->tags, MAX_TAGS));
	EXPECT_EQ((__u64)e.kmalloc_line, self->tags[0].tag.lineno);
	/* Between the two: nothing of the module. */
	ASSERT_LT(e.kmalloc_bytes + 1, e.page_bytes);
	f.min_size = e.kmalloc_bytes + 1;
	f.max_size = e.page_bytes - 1;
	EXPECT_EQ(0, walk(self->fd, &f, self->tags, MAX_TAGS));

	/* Accuracy: the module's fresh tags missed nothing. */
	memset(&f, 0, sizeof(f));
	all = walk(self->fd, NULL, self->tags, MAX_TAGS);
	f.mask = ALLOCINFO_FILTER_MASK_INACCURATE | ALLOCINFO_FILTER_MASK_MODNAME;
	set_name(f.fields.modname, AT_MOD_NAME);
	f.inaccurate = 1;
	EXPECT_EQ(0, walk(self->fd, &f, self->tags, MAX_TAGS));
	f.inaccurate = 0;
	EXPECT_EQ(rows, walk(self->fd, &f, self->tags, MAX_TAGS));

	/* The kernel image: an empty module name. */
	memset(&f, 0, sizeof(f));
	f.mask = ALLOCINFO_FILTER_MASK_MODNAME;
	n = walk(self->fd, &f, self->tags, MAX_TAGS);
	for (int i = 0; i < n && i < MAX_TAGS; i++)
		kernel_rows += !self->tags[i].tag.modname[0];
	EXPECT_EQ(n, kernel_rows);
	EXPECT_EQ(all - rows, n);

	ASSERT_EQ(0, at_set_param("allocated", "0"));
	ASSERT_EQ(0, at_unload_module());
}

/* The content id changes when a module's tags come and when they go. */
TEST_F(ioctl, content_id_follows_module_loads)
{
	__u64 before, loaded, unloaded;

	at_module_reset();
	before = content_id(self->fd);
	ASSERT_NE(~0ULL, before);
	EXPECT_EQ(before, content_id(self->fd));
	ASSERT_EQ(0, at_load_module());
	loaded = content_id(self->fd);
	EXPECT_NE(before, loaded);
	ASSERT_EQ(0, at_unload_module());
	unloaded = content_id(self->fd);
	EXPECT_NE(loaded, unloaded);
	EXPECT_NE(before, unloaded);
}

/* Upstream's errors for what is wrong, and nothing changed by them. */
TEST_F(ioctl, bad_arguments)
{
	struct allocinfo_get_at at;
	struct allocinfo_tag_data d, first;
	struct allocinfo_content_id id;
	int count = at_read_rows(NULL, NULL, 0);

	ASSERT_LT(0, count);
	/* Unknown command, and a known number with another size. */
	EXPECT_EQ(-1, ioctl(self->fd, _IOR(ALLOCINFO_IOC_BASE, 9, __u64), &id));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->fd, _IOR(ALLOCINFO_IOC_BASE, 0, __u32), &id));
	EXPECT_EQ(ENOTTY, errno);
	/* Bad pointers. */
	EXPECT_EQ(-1, ioctl(self->fd, ALLOCINFO_IOC_CONTENT_ID, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->fd, ALLOCINFO_IOC_GET_AT, (void *)8));
	EXPECT_EQ(EFAULT, errno);
	memset(&at, 0, sizeof(at));
	ASSERT_EQ(0, ioctl(self->fd, ALLOCINFO_IOC_GET_AT, &at));
	first = at.data;
	EXPECT_EQ(-1, ioctl(self->fd, ALLOCINFO_IOC_GET_NEXT, (void *)8));
	EXPECT_EQ(EFAULT, errno);
	/* Unknown criteria, an empty size range. */
	memset(&at, 0, sizeof(at));
	at.filter.mask = 1ULL << (__ALLOCINFO_FILTER_LAST + 1);
	EXPECT_EQ(-1, ioctl(self->fd, ALLOCINFO_IOC_GET_AT, &at));
	EXPECT_EQ(EINVAL, errno);
	at.filter.mask = ALLOCINFO_FILTER_MASK_MIN_SIZE | ALLOCINFO_FILTER_MASK_MAX_SIZE;
	at.filter.min_size = 2;
	at.filter.max_size = 1;
	EXPECT_EQ(-1, ioctl(self->fd, ALLOCINFO_IOC_GET_AT, &at));
	EXPECT_EQ(EINVAL, errno);
	/* Past the last tag, and a filter that takes nothing. */
	memset(&at, 0, sizeof(at));
	at.pos = count;
	EXPECT_EQ(-1, ioctl(self->fd, ALLOCINFO_IOC_GET_AT, &at));
	EXPECT_EQ(ENOENT, errno);
	memset(&at, 0, sizeof(at));
	at.filter.mask = ALLOCINFO_FILTER_MASK_LINENO;
	at.filter.fields.lineno = 1ULL << 40;
	EXPECT_EQ(-1, ioctl(self->fd, ALLOCINFO_IOC_GET_AT, &at));
	EXPECT_EQ(ENOENT, errno);
	/* The last tag, then ENOENT, then the walk starts again. */
	memset(&at, 0, sizeof(at));
	at.pos = count - 1;
	ASSERT_EQ(0, ioctl(self->fd, ALLOCINFO_IOC_GET_AT, &at));
	EXPECT_EQ(-1, ioctl(self->fd, ALLOCINFO_IOC_GET_NEXT, &d));
	EXPECT_EQ(ENOENT, errno);
	ASSERT_EQ(0, ioctl(self->fd, ALLOCINFO_IOC_GET_NEXT, &d));
	EXPECT_EQ(first.tag.lineno, d.tag.lineno);
	EXPECT_STREQ(first.tag.filename, d.tag.filename);
	/* Reading the file is not disturbed by the ioctls. */
	EXPECT_EQ(count, at_read_rows(NULL, NULL, 0));
}

/*
 * Walks while another process loads and unloads a module as fast as it
 * can: every walk ends with ENOENT, none gives more tags than there can
 * be, and a walk on an unchanged content id gives the file's count.
 */
TEST_F(ioctl, walks_while_modules_come_and_go)
{
	int count, max, n, walks = 0, changed = 0, status;
	__u64 id0, id1;
	pid_t pid;

	at_module_reset();
	ASSERT_EQ(0, at_load_module());
	max = at_read_rows(NULL, NULL, 0);
	ASSERT_EQ(0, at_unload_module());
	count = at_read_rows(NULL, NULL, 0);
	ASSERT_LT(0, count);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		for (int i = 0; i < 200; i++) {
			if (at_load_module() || at_unload_module())
				_exit(1);
		}
		_exit(0);
	}
	do {
		id0 = content_id(self->fd);
		n = walk(self->fd, NULL, self->tags, MAX_TAGS);
		id1 = content_id(self->fd);
		ASSERT_LE(0, n) TH_LOG("walk %d failed: %s", walks, strerror(-n));
		ASSERT_LE(n, max + (max - count));
		if (id0 != id1)
			changed++;
		else
			ASSERT_TRUE(n == count || n == max)
				TH_LOG("walk %d: %d tags with content id %llu, not %d or %d",
				       walks, n, (unsigned long long)id0, count, max);
		walks++;
	} while (waitpid(pid, &status, WNOHANG) == 0);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("the loader failed");
	TH_LOG("%d walks, %d of them while modules changed", walks, changed);
	EXPECT_LT(1, walks);
}

TEST_HARNESS_MAIN
