/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the alloc_tag kselftests: /proc/allocinfo rows, modules
 * and their parameters (above all alloc_tag_test, tests/modules/
 * alloc_tag_test), snapshots of every row to compare, the sysctl, the
 * kernel log and command line, the module tag area's figures in debugfs and
 * /proc/meminfo.
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
/* Where scripts/boot puts modules; ALLOC_TAG_TEST_MODULE overrides it. */
#define AT_MOD_PATH	"/modules/" AT_MOD_NAME ".ko"
/* The function of the module that holds both allocation calls. */
#define AT_MOD_FUNC	"alloc_tag_test_alloc"
/*
 * The module that holds the test module's allocations past its unload
 * (tests/modules/alloc_tag_keeper), found next to the test module.
 */
#define AT_KEEPER_NAME	"alloc_tag_keeper"
/* The module tag area's figures (kernels with that area). */
#define AT_AREA		"/sys/kernel/debug/alloc_tag/module_area"

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

/*
 * The sums of the bytes and calls of every row of /proc/allocinfo: 0, or
 * -errno, or -EBADMSG if a row is malformed.
 */
static inline int at_allocinfo_totals(long long *bytes, long long *calls)
{
	char line[4096];
	struct at_row r;
	int nr = 0, bad = 0;
	FILE *f = fopen(AT_ALLOCINFO, "r");

	if (!f)
		return -errno;
	*bytes = *calls = 0;
	while (fgets(line, sizeof(line), f)) {
		if (++nr <= 2)
			continue;
		if (!at_parse_row(line, &r)) {
			bad = 1;
			continue;
		}
		*bytes += r.bytes;
		*calls += r.calls;
	}
	fclose(f);
	return nr < 2 || bad ? -EBADMSG : 0;
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

/*
 * A snapshot of every row of /proc/allocinfo, for tests that compare rows
 * before and after what they do. Its room is allocated and written by
 * at_snap_prepare() up front, so that taking a snapshot later faults in no
 * page: the test's own anonymous memory would count at the very rows such
 * a test watches.
 */
#define AT_SNAP_ROWS	8192

struct at_snap {
	struct at_row *rows;
	int n;
};

static inline int at_snap_prepare(struct at_snap *s)
{
	size_t size = AT_SNAP_ROWS * sizeof(*s->rows);

	s->n = 0;
	s->rows = malloc(size);
	if (!s->rows)
		return -ENOMEM;
	/* Not zeroes: malloc() and a zeroing memset() may become calloc(). */
	memset(s->rows, 1, size);
	return 0;
}

static inline void at_snap_free(struct at_snap *s)
{
	free(s->rows);
	s->rows = NULL;
}

/* 0, or -errno, or -E2BIG if there are more than AT_SNAP_ROWS rows. */
static inline int at_snap_take(struct at_snap *s)
{
	s->n = at_read_rows(NULL, s->rows, AT_SNAP_ROWS);
	return s->n < 0 ? s->n : s->n > AT_SNAP_ROWS ? -E2BIG : 0;
}

/* Writes a frame of 256 KiB, below its caller's: see at_touch_stack(). */
static void at_touch_stack_frame(void)
{
	char deep[256 << 10];

	memset(deep, 1, sizeof(deep));
	/* As if the array were read here: the memset() cannot be left out. */
	asm volatile("" : : "r"(deep) : "memory");
}

/*
 * Faults in the stack a test may use later (a printf() alone takes
 * kilobytes of it): a new stack page would count at a watched row too.
 */
static inline void at_touch_stack(void)
{
	void (*touch)(void) = at_touch_stack_frame;

	/*
	 * Called through a pointer the compiler cannot see through: inlined,
	 * the array would be part of the caller's frame, and what the caller
	 * calls later would run below it, on stack not touched yet.
	 */
	asm("" : "+r"(touch));
	touch();
}

/*
 * Writes every page of this process's private writable mappings (data,
 * heap, stack; read and written back, so nothing changes): a kselftest
 * runs in a child of the harness, and the first write to a page it shares
 * with its parent copies the page, which would count at the very row of
 * anonymous faults a test watches. Also faults in their unpopulated pages;
 * call it before mapping what the test measures. 0, or -errno.
 */
static inline int at_prefault_self(void)
{
	long page = sysconf(_SC_PAGESIZE);
	char line[512], perms[8];
	unsigned long lo, hi, a;
	int pass;

	/* Twice: reading the maps may grow the heap the first time. */
	for (pass = 0; pass < 2; pass++) {
		FILE *f = fopen("/proc/self/maps", "r");

		if (!f)
			return -errno;
		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 ||
			    strcmp(perms, "rw-p"))
				continue;
			for (a = lo; a < hi; a += page) {
				char *p = (char *)a;
				char c = *p;

				/* Hides that c is unchanged: the write stays. */
				asm volatile("" : "+r"(c));
				*p = c;
			}
		}
		fclose(f);
	}
	return 0;
}

/* The row of @s for the call site of @r, or NULL. */
static inline const struct at_row *at_snap_row(const struct at_snap *s,
					       const struct at_row *r)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (s->rows[i].line == r->line && !strcmp(s->rows[i].file, r->file) &&
		    !strcmp(s->rows[i].func, r->func) &&
		    !strcmp(s->rows[i].module, r->module))
			return &s->rows[i];
	return NULL;
}

/* How much the row of @r grew from @a to @b, in bytes and calls. */
static inline void at_snap_growth(const struct at_snap *a, const struct at_snap *b,
				  const struct at_row *r, long long *bytes,
				  long long *calls)
{
	const struct at_row *ra = at_snap_row(a, r), *rb = at_snap_row(b, r);

	*bytes = (rb ? rb->bytes : 0) - (ra ? ra->bytes : 0);
	*calls = (long long)((rb ? rb->calls : 0) - (ra ? ra->calls : 0));
}

/*
 * The one row of @b that grew from @a by exactly @bytes in @calls, or NULL
 * with the row that grew most (or the number of rows that matched) in
 * @why.
 */
static inline const struct at_row *at_snap_grew_by(const struct at_snap *a,
						   const struct at_snap *b,
						   long long bytes, long long calls,
						   char *why, size_t len)
{
	const struct at_row *found = NULL;
	long long gb, gc, most = 0;
	int i, matches = 0;

	snprintf(why, len, "no row grew");
	for (i = 0; i < b->n; i++) {
		at_snap_growth(a, b, &b->rows[i], &gb, &gc);
		if (gb == bytes && gc == calls) {
			found = &b->rows[i];
			matches++;
		}
		if (gb > most) {
			most = gb;
			snprintf(why, len,
				 "largest growth: %s:%d [%s] func:%s, %lld bytes %lld calls",
				 b->rows[i].file, b->rows[i].line, b->rows[i].module,
				 b->rows[i].func, gb, gc);
		}
	}
	if (matches > 1)
		snprintf(why, len, "%d rows grew by %lld bytes in %lld calls",
			 matches, bytes, calls);
	return matches == 1 ? found : NULL;
}

/* No row of @s is negative; else false with the first one in @why. */
static inline bool at_snap_none_negative(const struct at_snap *s, char *why,
					 size_t len)
{
	int i;

	for (i = 0; i < s->n; i++) {
		if (s->rows[i].bytes < 0 || (long long)s->rows[i].calls < 0) {
			snprintf(why, len, "%s:%d func:%s: %lld bytes %lld calls",
				 s->rows[i].file, s->rows[i].line, s->rows[i].func,
				 s->rows[i].bytes, (long long)s->rows[i].calls);
			return false;
		}
	}
	return true;
}

/*
 * The bytes and calls of the @n @rows at @line, summed, and how many there
 * are: the kept rows of a module's earlier loads have the same name as the
 * live one's.
 */
static inline int at_line_totals(const struct at_row *rows, int n, int line,
				 long long *bytes, long long *calls)
{
	int i, found = 0;

	*bytes = *calls = 0;
	for (i = 0; i < n; i++) {
		if (rows[i].line != line)
			continue;
		*bytes += rows[i].bytes;
		*calls += rows[i].calls;
		found++;
	}
	return found;
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
	char buf[64], *end;
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
	/* What follows the number (a newline) does not matter. */
	v = strtoll(buf, &end, 10);
	if (end == buf)
		return -EINVAL;
	return v;
}

/* Parameter @param of module @mod, read as an integer (or -errno). */
static inline long long at_mod_param(const char *mod, const char *param)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/module/%s/parameters/%s", mod, param);
	return at_read_ll(path);
}

/* Writes @val to parameter @param of module @mod: 0 or -errno. */
static inline int at_set_mod_param(const char *mod, const char *param,
				   const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/module/%s/parameters/%s", mod, param);
	return at_write_file(path, val);
}

static inline long long at_param(const char *name)
{
	return at_mod_param(AT_MOD_NAME, name);
}

static inline int at_set_param(const char *name, const char *val)
{
	return at_set_mod_param(AT_MOD_NAME, name, val);
}

static inline const char *at_module_path(void)
{
	const char *p = getenv("ALLOC_TAG_TEST_MODULE");

	return p && *p ? p : AT_MOD_PATH;
}

/*
 * The path of module @name's .ko in @buf: next to the test module (in
 * /modules/ unless ALLOC_TAG_TEST_MODULE says otherwise).
 */
static inline const char *at_module_file(const char *name, char *buf,
					 size_t len)
{
	const char *test = at_module_path();
	const char *slash = strrchr(test, '/');

	if (slash)
		snprintf(buf, len, "%.*s/%s.ko", (int)(slash - test), test, name);
	else
		snprintf(buf, len, "%s.ko", name);
	return buf;
}

static inline bool at_module_is_loaded(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/module/%s", name);
	return access(path, F_OK) == 0;
}

/* finit_module() of the .ko at @path with @params ("" for none): 0 or -errno. */
static inline int at_load_module_file(const char *path, const char *params)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, params, 0) ? -errno : 0;
	close(fd);
	return ret;
}

/* delete_module() of module @name: 0 or -errno. */
static inline int at_unload_module_name(const char *name)
{
	return syscall(SYS_delete_module, name, O_NONBLOCK) ? -errno : 0;
}

static inline bool at_module_loaded(void)
{
	return at_module_is_loaded(AT_MOD_NAME);
}

/* finit_module() of the test module: 0 or -errno. */
static inline int at_load_module(void)
{
	return at_load_module_file(at_module_path(), "");
}

/* delete_module() of the test module: 0 or -errno. */
static inline int at_unload_module(void)
{
	return at_unload_module_name(AT_MOD_NAME);
}

/* Loads the keeper module if it is not loaded: 0 or -errno. */
static inline int at_load_keeper(void)
{
	char path[1024];
	int ret;

	if (at_module_is_loaded(AT_KEEPER_NAME))
		return 0;
	ret = at_load_module_file(at_module_file(AT_KEEPER_NAME, path,
						 sizeof(path)), "");
	return ret == -EEXIST ? 0 : ret;
}

/* Frees what the keeper module holds and unloads it: 0 or -errno. */
static inline int at_unload_keeper(void)
{
	int ret = at_set_mod_param(AT_KEEPER_NAME, "release", "1");

	return ret ? ret : at_unload_module_name(AT_KEEPER_NAME);
}

/*
 * Unloads a test module (and keeper) an earlier test left behind, without
 * leaking.
 */
static inline void at_module_reset(void)
{
	if (at_module_loaded()) {
		at_set_param("keep", "0");
		at_set_param("give", "0");
		at_set_param("allocated", "0");
		at_unload_module();
	}
	if (at_module_is_loaded(AT_KEEPER_NAME))
		at_unload_keeper();
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
		snprintf(why, len,
			 "no row for %s.c:%d (pages) or :%d (kmalloc); rows are %.400s:%d, %.400s:%d",
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
 * Unloads the test module and sets *@log to what the kernel logged
 * meanwhile (malloc()ed; NULL if it could not be read, and then nothing is
 * unloaded if /dev/kmsg could not be opened). Returns the unload's result.
 */
static inline int at_unload_module_logged(char **log)
{
	int kmsg = at_kmsg_open(false), ret;

	*log = NULL;
	if (kmsg < 0)
		return -errno;
	ret = at_unload_module();
	*log = at_kmsg_read(kmsg);
	close(kmsg);
	return ret;
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

/*
 * The first line of @log that starts with @prefix and ends with @suffix
 * (the whole line if they are equal), copied to @found; false if none.
 */
static inline bool at_log_find_line(const char *log, const char *prefix,
				    const char *suffix, char *found, size_t len)
{
	bool whole = !strcmp(prefix, suffix);
	size_t pl = strlen(prefix), sl = strlen(suffix);
	const char *line = log;

	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t ll = end ? (size_t)(end - line) : strlen(line);

		if ((whole ? ll == pl : ll >= pl + sl) &&
		    !strncmp(line, prefix, pl) &&
		    !strncmp(line + ll - sl, suffix, sl)) {
			if (found)
				snprintf(found, len, "%.*s", (int)ll, line);
			return true;
		}
		line = end ? end + 1 : NULL;
	}
	return false;
}

/* The whole kernel log, one message a line (malloc()ed; NULL on failure). */
static inline char *at_kernel_log(void)
{
	int fd = at_kmsg_open(true);
	char *log;

	if (fd < 0)
		return NULL;
	log = at_kmsg_read(fd);
	close(fd);
	return log;
}

/* Environment variable @name is "1". */
static inline bool at_env_flag(const char *name)
{
	const char *e = getenv(name);

	return e && !strcmp(e, "1");
}

/*
 * The value of the last @name= on the kernel command line, in @val; false
 * if there is none.
 */
static inline bool at_cmdline_value(const char *name, char *val, size_t len)
{
	static char cmdline[8192];
	const char *p, *found = NULL;
	size_t nl = strlen(name);
	int fd = open("/proc/cmdline", O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, cmdline, sizeof(cmdline) - 1);
	close(fd);
	if (n <= 0)
		return false;
	cmdline[n] = '\0';
	for (p = cmdline; (p = strstr(p, name)); p++)
		if ((p == cmdline || p[-1] == ' ') && p[nl] == '=')
			found = p + nl + 1;
	if (!found)
		return false;
	snprintf(val, len, "%.*s", (int)strcspn(found, "\n "), found);
	return true;
}

/* The kernel's taint flags (/proc/sys/kernel/tainted), or -errno. */
#define AT_TAINT_WARN	0x200LL	/* Bit 9, 'W': a WARN() fired. */
static inline long long at_tainted(void)
{
	return at_read_ll("/proc/sys/kernel/tainted");
}

/*
 * A figure of /proc/meminfo in kB, by its name without the colon ("Percpu");
 * -ENOENT if there is no such line, -errno if the file cannot be read.
 */
static inline long long at_meminfo_kb(const char *key)
{
	char line[256];
	size_t kl = strlen(key);
	long long v = -ENOENT;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, kl) || line[kl] != ':')
			continue;
		if (sscanf(line + kl + 1, "%lld kB", &v) != 1)
			v = -EINVAL;
		break;
	}
	fclose(f);
	return v;
}

/*
 * The module tag area's figures, in bytes but for the two counts:
 * capacity, used (every range: loaded modules' and kept ones), populated
 * (backed by pages), ranges (how many) and unloaded (kept ranges of
 * unloaded modules).
 */
struct at_area {
	long long capacity, used, populated, ranges, unloaded;
};

/*
 * The figures of an area as text, for a message: at_area_text(&a).s, which
 * lasts until the end of the statement (C11).
 */
struct at_text {
	char s[192];
};

static inline struct at_text at_area_text(const struct at_area *a)
{
	struct at_text t;

	snprintf(t.s, sizeof(t.s),
		 "capacity %lld used %lld populated %lld ranges %lld unloaded %lld",
		 a->capacity, a->used, a->populated, a->ranges, a->unloaded);
	return t;
}

/*
 * Reads AT_AREA, which must be exactly the lines "capacity <n>", "used
 * <n>", "populated <n>", "ranges <n>", "unloaded <n>" in that order. 0, or
 * -errno, or -EBADMSG if the file says anything else.
 */
static inline int at_read_area(struct at_area *a)
{
	static const char *const keys[] = {
		"capacity", "used", "populated", "ranges", "unloaded" };
	long long *const vals[] = {
		&a->capacity, &a->used, &a->populated, &a->ranges, &a->unloaded };
	char line[256], key[32], again[256];
	long long v;
	int i = 0, bad = 0;
	FILE *f = fopen(AT_AREA, "r");

	if (!f)
		return -errno;
	while (!bad && fgets(line, sizeof(line), f)) {
		/* Parsed, then printed back: the line must read the same. */
		bad = i == 5 || sscanf(line, "%31s %lld", key, &v) != 2;
		if (!bad) {
			snprintf(again, sizeof(again), "%s %lld\n", keys[i], v);
			bad = strcmp(line, again) || v < 0;
		}
		if (!bad)
			*vals[i++] = v;
	}
	fclose(f);
	return bad || i != 5 ? -EBADMSG : 0;
}

/*
 * Checks @log (what the kernel logged while the test module unloaded) for
 * what a kernel with the module tag area says when it keeps the module's
 * tags because @e's allocations are live: a line per tag in use,
 * "alloc_tag: <file>:<line> module <mod> func:<func> has <bytes> allocated
 * at module unload", then "alloc_tag: module <mod> unloaded with 2 tags in
 * use; keeping its tags", and no WARN() splat. Returns 0, or -1 with the
 * first difference in @why.
 */
static inline int at_check_kept_log(const char *log, const struct at_expect *e,
				    char *why, size_t len)
{
	static const char *const warning[] = { "WARNING", NULL };
	static const char *const cut[] = { "cut here", NULL };
	static const char summary[] = "alloc_tag: module " AT_MOD_NAME
		" unloaded with 2 tags in use; keeping its tags";
	char tail[256], found[1024];
	int i;

	for (i = 0; i < 2; i++) {
		snprintf(tail, sizeof(tail), AT_MOD_NAME ".c:%d module "
			 AT_MOD_NAME " func:" AT_MOD_FUNC
			 " has %lld allocated at module unload",
			 i ? e->kmalloc_line : e->page_line,
			 i ? e->kmalloc_bytes : e->page_bytes);
		if (!at_log_find_line(log, "alloc_tag: ", tail, NULL, 0)) {
			snprintf(why, len,
				 "no line 'alloc_tag: <dir>/%s' in the kernel log:\n%.1500s",
				 tail, log);
			return -1;
		}
	}
	if (!at_log_find_line(log, summary, summary, NULL, 0)) {
		snprintf(why, len, "no line '%s' in the kernel log:\n%.1500s",
			 summary, log);
		return -1;
	}
	if (at_log_find(log, warning, found, sizeof(found)) ||
	    at_log_find(log, cut, found, sizeof(found))) {
		snprintf(why, len, "a warning in the kernel log: %s", found);
		return -1;
	}
	why[0] = '\0';
	return 0;
}

#endif /* ALLOC_TAG_UTIL_H */
