// SPDX-License-Identifier: GPL-2.0
/*
 * Everything at once, on every CPU: readers of /proc/allocinfo, the test
 * module loaded, allocating and unloaded over and over (half the time with
 * its allocations handed to alloc_tag_keeper, so its tags are kept, then
 * freed, so the next load reclaims them), the page allocator churned by
 * processes faulting memory in and out, and (second test) vm.mem_profiling
 * switched off and on meanwhile.
 *
 * While it runs, every read of /proc/allocinfo must parse. Afterwards, with
 * everything freed and nothing running, no row is negative, the module's
 * rows (live and kept) count nothing, and a last load counts exactly. With
 * switching, counts may miss what was allocated or freed while profiling
 * was off (upstream's semantics: allocations made while off are never
 * counted, frees made while off are not subtracted), so that test checks
 * only that nothing is negative and that a load afterwards counts exactly
 * at rows of its own. The kernel log must stay clean (scripts/test).
 *
 * Runs for $ALLOC_TAG_STRESS_SECONDS (default 5) seconds per test. Uses
 * alloc_tag_test and alloc_tag_keeper; needs the module tag area for kept
 * tags ($ALLOC_TAG_AREA=1; without it, modules unload with nothing live).
 */
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#include "../kselftest_harness.h"
#include "alloc_tag_util.h"

#define MAX_ROWS	8192
#define MAX_WORKERS	16

static char why[2048];

/* Seconds each test runs its workers. */
static int stress_seconds(void)
{
	const char *e = getenv("ALLOC_TAG_STRESS_SECONDS");
	int s = e ? atoi(e) : 0;

	return s > 0 ? s : 5;
}

static bool stop_at(time_t end)
{
	return time(NULL) >= end;
}

/* A reader: every read of /proc/allocinfo parses. Exits 1 if one did not. */
static int reader(time_t end)
{
	struct at_row *rows = malloc(MAX_ROWS * sizeof(*rows));
	long reads = 0;
	int n;

	if (!rows)
		return 2;
	while (!stop_at(end)) {
		n = at_read_rows(NULL, rows, MAX_ROWS);
		if (n < 0) {
			fprintf(stderr, "# %s: /proc/allocinfo: %s\n", __func__, strerror(-n));
			return 1;
		}
		reads++;
	}
	fprintf(stderr, "# %s: %ld reads\n", __func__, reads);
	return 0;
}

/* Faults 4 MiB in and out, small and huge pages alike. */
static int churner(time_t end)
{
	size_t len = 4 << 20;
	long rounds = 0;

	while (!stop_at(end)) {
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			return 1;
		memset(p, 0x5a, len);
		munmap(p, len);
		rounds++;
	}
	fprintf(stderr, "# %s: %ld rounds\n", __func__, rounds);
	return 0;
}

/*
 * The loader: load, allocate, then either free and unload, or hand over
 * to the keeper and unload (tags kept), releasing the keeper every few
 * rounds so kept tags can be reclaimed. Errors other than those a
 * concurrent switch may cause end it with 1.
 */
static int loader(time_t end, bool area)
{
	long rounds = 0, kept = 0;
	int ret;

	while (!stop_at(end)) {
		ret = at_load_module();
		if (ret) {
			fprintf(stderr, "# %s: load: %s\n", __func__, strerror(-ret));
			return 1;
		}
		ret = at_set_param("allocated", "1");
		if (!ret && area && rounds % 2) {
			ret = at_set_param("keep", "1") ?: at_set_param("give", "1");
			kept++;
		} else if (!ret) {
			ret = at_set_param("allocated", "0");
		}
		if (ret) {
			fprintf(stderr, "# %s: allocating: %s\n", __func__, strerror(-ret));
			return 1;
		}
		ret = at_unload_module();
		if (ret) {
			fprintf(stderr, "# %s: unload: %s\n", __func__, strerror(-ret));
			return 1;
		}
		/* The keeper holds 6 hand-overs of 40 allocations. */
		if (kept == 4) {
			ret = at_set_mod_param(AT_KEEPER_NAME, "release", "1");
			if (ret) {
				fprintf(stderr, "# %s: release: %s\n", __func__,
					strerror(-ret));
				return 1;
			}
			kept = 0;
		}
		rounds++;
	}
	fprintf(stderr, "# %s: %ld rounds\n", __func__, rounds);
	return 0;
}

/* Switches vm.mem_profiling off and on; leaves it on. */
static int switcher(time_t end)
{
	long rounds = 0;

	while (!stop_at(end)) {
		if (at_write_file(AT_SYSCTL, "0") || at_write_file(AT_SYSCTL, "1"))
			return 1;
		rounds++;
		usleep(1000);
	}
	fprintf(stderr, "# %s: %ld rounds\n", __func__, rounds);
	return at_write_file(AT_SYSCTL, "1") ? 1 : 0;
}

enum role { READER, CHURNER, LOADER, SWITCHER };

/* Runs @n workers of the given roles until @seconds pass; 0 if all did well. */
static int run_workers(const enum role *roles, int n, int seconds, bool area)
{
	time_t end = time(NULL) + seconds;
	pid_t pids[MAX_WORKERS];
	int i, status, bad = 0;

	for (i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			return -errno;
		if (pids[i] == 0) {
			switch (roles[i]) {
			case READER:
				_exit(reader(end));
			case CHURNER:
				_exit(churner(end));
			case LOADER:
				_exit(loader(end, area));
			case SWITCHER:
				_exit(switcher(end));
			}
			_exit(3);
		}
	}
	for (i = 0; i < n; i++) {
		if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status)) {
			snprintf(why, sizeof(why), "worker %d (role %d) failed: status %#x",
				 i, roles[i], status);
			bad = 1;
		}
	}
	return bad;
}

FIXTURE(stress) {
	bool area;
	long cpus;
};

FIXTURE_SETUP(stress)
{
	if (at_sysctl() != 1)
		SKIP(return, "memory allocation profiling is off");
	self->area = at_env_flag("ALLOC_TAG_AREA");
	self->cpus = sysconf(_SC_NPROCESSORS_ONLN);
	at_module_reset();
	ASSERT_EQ(0, at_load_keeper());
}

FIXTURE_TEARDOWN(stress)
{
	at_write_file(AT_SYSCTL, "1");
	at_module_reset();
}

#define MOD_ROWS	256

/* The test module's rows (live and kept), in @rows: how many, or -errno. */
static int module_rows(struct at_row *rows)
{
	int n = at_read_rows(AT_MOD_NAME, rows, MOD_ROWS);

	return n > MOD_ROWS ? -E2BIG : n;
}

/*
 * No row is negative, and a load afterwards counts exactly: the module's
 * rows at each of its two lines grow by what it allocates and give it all
 * back when it frees. (Its lines are known once it allocated.)
 */
static int check_quiet(struct __test_metadata *_metadata)
{
	static struct at_row before[MOD_ROWS], now[MOD_ROWS];
	long long pb0, pc0, kb0, kc0, pb, pc, kb, kc;
	int nb, nn, bad = 0;
	struct at_expect e;
	struct at_snap a;

	if (at_snap_prepare(&a) || at_snap_take(&a))
		return -EIO;
	if (!at_snap_none_negative(&a, why, sizeof(why))) {
		TH_LOG("negative: %s", why);
		bad = 1;
	}
	at_snap_free(&a);
	nb = module_rows(before);
	if (nb < 0 || at_load_module() || at_set_param("allocated", "1") ||
	    at_expectation(&e))
		return -EIO;
	nn = module_rows(now);
	if (nn < 0)
		return -EIO;
	at_line_totals(before, nb, e.page_line, &pb0, &pc0);
	at_line_totals(before, nb, e.kmalloc_line, &kb0, &kc0);
	at_line_totals(now, nn, e.page_line, &pb, &pc);
	at_line_totals(now, nn, e.kmalloc_line, &kb, &kc);
	if (pb - pb0 != e.page_bytes || pc - pc0 != e.page_calls ||
	    kb - kb0 != e.kmalloc_bytes || kc - kc0 != e.kmalloc_calls) {
		snprintf(why, sizeof(why),
			 "a load afterwards grew by %lld bytes %lld calls (pages), %lld %lld (kmalloc); want %lld %lld, %lld %lld",
			 pb - pb0, pc - pc0, kb - kb0, kc - kc0, e.page_bytes,
			 e.page_calls, e.kmalloc_bytes, e.kmalloc_calls);
		TH_LOG("%s", why);
		bad = 1;
	}
	if (at_set_param("allocated", "0"))
		return -EIO;
	nn = module_rows(now);
	if (nn < 0)
		return -EIO;
	at_line_totals(now, nn, e.page_line, &pb, &pc);
	at_line_totals(now, nn, e.kmalloc_line, &kb, &kc);
	if (pb != pb0 || pc != pc0 || kb != kb0 || kc != kc0) {
		TH_LOG("freed afterwards: %lld bytes %lld calls (pages), %lld %lld (kmalloc) left",
		       pb - pb0, pc - pc0, kb - kb0, kc - kc0);
		bad = 1;
	}
	return at_unload_module() ? -EIO : bad;
}

/* Every row of the test module, live or kept, counts nothing. */
static bool module_rows_zero(void)
{
	struct at_row rows[64];
	int n = at_read_rows(AT_MOD_NAME, rows, 64), i;

	snprintf(why, sizeof(why), "reading %s: %d", AT_ALLOCINFO, n);
	if (n < 0)
		return false;
	for (i = 0; i < n && i < 64; i++) {
		if (rows[i].bytes || rows[i].calls) {
			snprintf(why, sizeof(why), "%s:%d: %lld bytes %llu calls",
				 rows[i].file, rows[i].line, rows[i].bytes, rows[i].calls);
			return false;
		}
	}
	return true;
}

TEST_F_TIMEOUT(stress, load_read_churn, 300)
{
	enum role roles[MAX_WORKERS] = { LOADER, READER, READER, CHURNER };
	int n = 4, ret;

	/* One more reader and churner per CPU beyond 2. */
	for (long c = 2; c < self->cpus && n + 2 <= MAX_WORKERS; c++) {
		roles[n++] = READER;
		roles[n++] = CHURNER;
	}
	ASSERT_EQ(0, run_workers(roles, n, stress_seconds(), self->area)) TH_LOG("%s", why);
	ASSERT_EQ(0, at_set_mod_param(AT_KEEPER_NAME, "release", "1"));
	EXPECT_TRUE(module_rows_zero()) TH_LOG("%s", why);
	ret = check_quiet(_metadata);
	EXPECT_EQ(0, ret);
}

TEST_F_TIMEOUT(stress, with_switching, 300)
{
	enum role roles[MAX_WORKERS] = { LOADER, READER, CHURNER, SWITCHER };
	int ret;

	if (access(AT_SYSCTL, W_OK) || at_env_flag("ALLOC_TAG_SYSCTL_RO"))
		SKIP(return, "vm.mem_profiling is read-only");
	ASSERT_EQ(0, run_workers(roles, 4, stress_seconds(), self->area)) TH_LOG("%s", why);
	ASSERT_EQ(1, at_sysctl());
	ASSERT_EQ(0, at_set_mod_param(AT_KEEPER_NAME, "release", "1"));
	/*
	 * Kept rows may keep what was freed while profiling was off; the
	 * next load may find no room to reclaim them into, but counts
	 * exactly at its own rows.
	 */
	at_module_reset();
	ret = check_quiet(_metadata);
	EXPECT_EQ(0, ret);
}

TEST_HARNESS_MAIN
