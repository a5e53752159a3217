/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the alloc_tag kselftests: /proc/allocinfo rows, the
 * alloc_tag_test module (tests/modules/alloc_tag_test) and its parameters,
 * the sysctl, and the kernel log.
 */
#ifndef ALLOC_TAG_UTIL_H
#define ALLOC_TAG_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define AT_ALLOCINFO	"/proc/allocinfo"
#define AT_SYSCTL	"/proc/sys/vm/mem_profiling"
#define AT_MOD_NAME	"alloc_tag_test"
#define AT_MOD_PARAMS	"/sys/module/" AT_MOD_NAME "/parameters/"
/* Where scripts/boot puts modules; ALLOC_TAG_TEST_MODULE overrides it. */
#define AT_MOD_PATH	"/modules/" AT_MOD_NAME ".ko"
/* The function of the module that holds both allocation calls. */
#define AT_MOD_FUNC	"alloc_tag_test_alloc"

struct at_row {
	long long bytes;
	unsigned long long calls;
	char file[1024];
	int line;
	char module[128];	/* empty for built-in code */
	char func[256];
};

/*
 * Parses one /proc/allocinfo row: "<bytes> <calls> file:line [module]
 * func:name". Returns false if it is not one.
 */
static inline bool at_parse_row(const char *text, struct at_row *r)
{
	char tag[1024], next[512], extra[2];
	char *colon;
	int n;

	memset(r, 0, sizeof(*r));
	n = sscanf(text, "%lld %llu %1023s %511s %255s %1s", &r->bytes,
		   &r->calls, tag, next, r->func, extra);
	if (n < 4)
		return false;
	colon = strrchr(tag, ':');
	if (!colon || colon == tag || sscanf(colon + 1, "%d", &r->line) != 1)
		return false;
	*colon = '\0';
	snprintf(r->file, sizeof(r->file), "%s", tag);
	if (next[0] == '[') {
		size_t len = strlen(next);

		if (n != 5 || len < 3 || next[len - 1] != ']')
			return false;
		snprintf(r->module, sizeof(r->module), "%.*s", (int)len - 2,
			 next + 1);
		snprintf(next, sizeof(next), "%s", r->func);
	} else if (n != 4) {
		return false;
	}
	if (strncmp(next, "func:", 5) || !next[5])
		return false;
	memmove(r->func, next + 5, strlen(next + 5) + 1);
	return true;
}

/*
 * Reads /proc/allocinfo and stores the rows of @module (NULL: every row) in
 * @rows, at most @max. Returns how many rows matched (even beyond @max), or
 * -errno; -EBADMSG if the header or a row is malformed.
 */
static inline int at_read_rows(const char *module, struct at_row *rows, int max)
{
	char line[4096];
	struct at_row r;
	int nr = 0, found = 0, bad = 0;
	FILE *f = fopen(AT_ALLOCINFO, "r");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		nr++;
		if (nr == 1) {
			bad |= strcmp(line, "allocinfo - version: 1.0\n") != 0;
			continue;
		}
		if (nr == 2) {
			bad |= strcmp(line, "#     <size>  <calls> <tag info>\n") != 0;
			continue;
		}
		if (!at_parse_row(line, &r)) {
			bad = 1;
			continue;
		}
		if (module && strcmp(r.module, module))
			continue;
		if (found < max)
			rows[found] = r;
		found++;
	}
	fclose(f);
	if (nr < 2 || bad)
		return -EBADMSG;
	return found;
}

/* The row of @rows whose file ends in "/@base" (or is @base) at @line. */
static inline const struct at_row *at_find_row(const struct at_row *rows, int n,
					       const char *base, int line)
{
	size_t bl = strlen(base);
	int i;

	for (i = 0; i < n; i++) {
		size_t fl = strlen(rows[i].file);

		if (rows[i].line != line || fl < bl ||
		    strcmp(rows[i].file + fl - bl, base) ||
		    (fl > bl && rows[i].file[fl - bl - 1] != '/'))
			continue;
		return &rows[i];
	}
	return NULL;
}

/* Writes @val to @path. Returns 0 or -errno of the open or the write. */
static inline int at_write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	ssize_t len = strlen(val), n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, len);
	if (n != len) {
		int err = n < 0 ? -errno : -EIO;

		close(fd);
		return err;
	}
	return close(fd) ? -errno : 0;
}

/* Reads an integer from @path; -errno on failure, -EINVAL if not a number. */
static inline long long at_read_ll(const char *path)
{
	char buf[64];
	long long v;
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EINVAL;
	buf[n] = '\0';
	if (sscanf(buf, "%lld", &v) != 1)
		return -EINVAL;
	return v;
}

static inline long long at_param(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), AT_MOD_PARAMS "%s", name);
	return at_read_ll(path);
}

static inline int at_set_param(const char *name, const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), AT_MOD_PARAMS "%s", name);
	return at_write_file(path, val);
}

static inline const char *at_module_path(void)
{
	const char *p = getenv("ALLOC_TAG_TEST_MODULE");

	return p && *p ? p : AT_MOD_PATH;
}

static inline bool at_module_loaded(void)
{
	return access("/sys/module/" AT_MOD_NAME, F_OK) == 0;
}

/* finit_module() of the test module: 0 or -errno. */
static inline int at_load_module(void)
{
	int fd = open(at_module_path(), O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, "", 0) ? -errno : 0;
	close(fd);
	return ret;
}

/* delete_module() of the test module: 0 or -errno. */
static inline int at_unload_module(void)
{
	return syscall(SYS_delete_module, AT_MOD_NAME, O_NONBLOCK) ? -errno : 0;
}

/* Unloads a test module an earlier test left behind, without leaking. */
static inline void at_module_reset(void)
{
	if (!at_module_loaded())
		return;
	at_set_param("keep", "0");
	at_set_param("allocated", "0");
	at_unload_module();
}

/* The sysctl: 0 or 1, or -errno. */
static inline int at_sysctl(void)
{
	long long v = at_read_ll(AT_SYSCTL);

	return v < 0 ? (int)v : v == 0 || v == 1 ? (int)v : -EINVAL;
}

/*
 * What the two rows of the module must show while its allocations are live
 * (with profiling on) and the lines that name them.
 */
struct at_expect {
	int page_line, kmalloc_line;
	long long page_bytes, page_calls;
	long long kmalloc_bytes, kmalloc_calls;
};

/*
 * The bytes an object of kmalloc(@size) counts: the slab cache's object
 * size with its metadata, which is @size itself unless a debug option
 * (KASAN, slab debugging) adds to it. SLUB shows it in sysfs, except with
 * SLUB_TINY (the default config), which has no debug options.
 */
static inline long long at_slab_size(long long size)
{
	char path[128];
	long long v;

	/* The caches are kmalloc-512, kmalloc-1k, kmalloc-2k, ... */
	if (size >= 1024 && size % 1024 == 0)
		snprintf(path, sizeof(path),
			 "/sys/kernel/slab/kmalloc-%lldk/slab_size", size / 1024);
	else
		snprintf(path, sizeof(path),
			 "/sys/kernel/slab/kmalloc-%lld/slab_size", size);
	v = at_read_ll(path);
	return v > 0 ? v : size;
}

/* Reads the module's parameters into @e; 0 or -errno. */
static inline int at_expectation(struct at_expect *e)
{
	long long order = at_param("page_order");
	long long allocs = at_param("page_allocs");
	long long size = at_param("kmalloc_size");
	long long objects = at_param("kmalloc_objects");
	long long pl = at_param("page_line"), kl = at_param("kmalloc_line");

	if (order < 0 || allocs <= 0 || size <= 0 || objects <= 0 ||
	    pl <= 0 || kl <= 0)
		return -EINVAL;
	e->page_line = pl;
	e->kmalloc_line = kl;
	e->page_calls = allocs;
	e->page_bytes = allocs * (sysconf(_SC_PAGESIZE) << order);
	e->kmalloc_calls = objects;
	e->kmalloc_bytes = objects * at_slab_size(size);
	return 0;
}

/*
 * Checks the module's rows against @e (@live: allocations live and
 * accounted) or against zero (@live false). Returns 0, or -1 with the first
 * difference described in @why.
 */
static inline int at_check_rows(const struct at_expect *e, bool live,
				char *why, size_t len)
{
	struct at_row rows[8];
	const struct at_row *p, *k;
	int n = at_read_rows(AT_MOD_NAME, rows, 8);

	if (n < 0) {
		snprintf(why, len, "reading %s: %s", AT_ALLOCINFO, strerror(-n));
		return -1;
	}
	if (n != 2) {
		snprintf(why, len, "%d rows of [%s], want 2", n, AT_MOD_NAME);
		return -1;
	}
	p = at_find_row(rows, n, AT_MOD_NAME ".c", e->page_line);
	k = at_find_row(rows, n, AT_MOD_NAME ".c", e->kmalloc_line);
	if (!p || !k) {
		snprintf(why, len, "no row for %s.c:%d (pages) or :%d (kmalloc); rows are %.400s:%d, %.400s:%d",
			 AT_MOD_NAME, e->page_line, e->kmalloc_line,
			 rows[0].file, rows[0].line, rows[1].file, rows[1].line);
		return -1;
	}
	if (strcmp(p->func, AT_MOD_FUNC) || strcmp(k->func, AT_MOD_FUNC)) {
		snprintf(why, len, "func:%s and func:%s, want func:%s",
			 p->func, k->func, AT_MOD_FUNC);
		return -1;
	}
	if (p->bytes != (live ? e->page_bytes : 0) ||
	    (long long)p->calls != (live ? e->page_calls : 0)) {
		snprintf(why, len, "pages row: %lld bytes %llu calls, want %lld %lld",
			 p->bytes, p->calls, live ? e->page_bytes : 0,
			 live ? e->page_calls : 0);
		return -1;
	}
	if (k->bytes != (live ? e->kmalloc_bytes : 0) ||
	    (long long)k->calls != (live ? e->kmalloc_calls : 0)) {
		snprintf(why, len, "kmalloc row: %lld bytes %llu calls, want %lld %lld",
			 k->bytes, k->calls, live ? e->kmalloc_bytes : 0,
			 live ? e->kmalloc_calls : 0);
		return -1;
	}
	why[0] = '\0';
	return 0;
}

/*
 * The kernel log through /dev/kmsg. at_kmsg_open(true) starts at the oldest
 * record still kept, at_kmsg_open(false) after the newest one.
 */
static inline int at_kmsg_open(bool from_start)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0 && !from_start && lseek(fd, 0, SEEK_END) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Reads every record not read yet from @fd and returns their texts, one a
 * line, in a malloc()ed string (NULL on failure).
 */
static inline char *at_kmsg_read(int fd)
{
	size_t cap = 1 << 16, used = 0;
	char *out = malloc(cap), rec[8192];

	if (!out)
		return NULL;
	out[0] = '\0';
	for (;;) {
		ssize_t n = read(fd, rec, sizeof(rec) - 1);
		char *msg, *end;
		size_t len;

		if (n < 0 && errno == EPIPE)	/* records overwritten: go on */
			continue;
		if (n <= 0)
			break;
		rec[n] = '\0';
		msg = strchr(rec, ';');
		if (!msg)
			continue;
		msg++;
		end = strchr(msg, '\n');	/* drop the key=value lines */
		len = end ? (size_t)(end - msg) : strlen(msg);
		if (used + len + 2 > cap) {
			char *bigger = realloc(out, cap * 2 + len);

			if (!bigger)
				break;
			out = bigger;
			cap = cap * 2 + len;
		}
		memcpy(out + used, msg, len);
		used += len;
		out[used++] = '\n';
		out[used] = '\0';
	}
	return out;
}

/*
 * The first line of @log that contains every string of @needles (NULL
 * ended), copied to @found; false if none does.
 */
static inline bool at_log_find(const char *log, const char *const *needles,
			       char *found, size_t len)
{
	const char *line = log;

	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t ll = end ? (size_t)(end - line) : strlen(line);
		char buf[4096];
		int i;

		snprintf(buf, sizeof(buf), "%.*s", (int)ll, line);
		for (i = 0; needles[i]; i++)
			if (!strstr(buf, needles[i]))
				break;
		if (!needles[i]) {
			if (found)
				snprintf(found, len, "%.*s", (int)len - 1, buf);
			return true;
		}
		line = end ? end + 1 : NULL;
	}
	return false;
}

#endif /* ALLOC_TAG_UTIL_H */
