// SPDX-License-Identifier: GPL-2.0
/*
 * The boot parameter sysctl.vm.mem_profiling, checked from inside a guest
 * booted with it. $ALLOC_TAG_EXPECT says what the boot's command line
 * should have done (scripts/test has a table of boots):
 *
 *   default  no parameter: the built-in default, profiling on
 *            (CONFIG_MEM_ALLOC_PROFILING_ENABLED_BY_DEFAULT=y)
 *   on       =1: profiling on
 *   off      =0: profiling off, the sysctl can turn it on
 *   never    =never, or any value that starts with it (6.12 reads only
 *            its first five letters): off for good, the sysctl is
 *            read-only
 *   bad      a malformed value: the default is in force and the kernel
 *            log has a message naming the parameter and the value
 *
 * An option after a comma (",compressed") is not looked at here: see
 * pgtag_test.c. The value itself is read from /proc/cmdline. Accounting is checked
 * exactly with the alloc_tag_test module (see module_test.c).
 */
#define _GNU_SOURCE
#include <sys/stat.h>

#include "../kselftest_harness.h"
#include "alloc_tag_util.h"

#define PARAM		"sysctl.vm.mem_profiling"

enum expect { EXPECT_DEFAULT, EXPECT_ON, EXPECT_OFF, EXPECT_NEVER, EXPECT_BAD };

static char why[2048];

static enum expect expectation(void)
{
	const char *e = getenv("ALLOC_TAG_EXPECT");

	if (!e || !*e || !strcmp(e, "default"))
		return EXPECT_DEFAULT;
	if (!strcmp(e, "on"))
		return EXPECT_ON;
	if (!strcmp(e, "off"))
		return EXPECT_OFF;
	if (!strcmp(e, "never"))
		return EXPECT_NEVER;
	if (!strcmp(e, "bad"))
		return EXPECT_BAD;
	fprintf(stderr, "ALLOC_TAG_EXPECT=%s: want default, on, off, never or bad\n", e);
	exit(KSFT_FAIL);
}

/* Profiling is expected on (the default in force) after this boot. */
static bool expect_on(void)
{
	return expectation() == EXPECT_DEFAULT || expectation() == EXPECT_ON ||
	       expectation() == EXPECT_BAD;
}

/* The value of the last PARAM= on the kernel command line, if any. */
static bool cmdline_value(char *val, size_t len)
{
	return at_cmdline_value(PARAM, val, len);
}

/*
 * The first line of @log that mentions mem_profiling, contains @needle
 * (any case), and is not the kernel echoing its command line.
 */
static bool find_message(const char *log, const char *needle,
			 char *found, size_t len)
{
	const char *line = log;

	while (line && *line) {
		const char *end = strchr(line, '\n');
		char buf[4096];

		snprintf(buf, sizeof(buf), "%.*s",
			 (int)(end ? end - line : (long)strlen(line)), line);
		line = end ? end + 1 : NULL;
		if (!strstr(buf, "mem_profiling") || strcasestr(buf, "command line"))
			continue;
		if (needle && !strcasestr(buf, needle))
			continue;
		snprintf(found, len, "%s", buf);
		return true;
	}
	return false;
}

/* Loads alloc_tag_test, allocates, checks its rows, frees, unloads. */
static void check_accounting(struct __test_metadata *_metadata, bool counted)
{
	struct at_expect e;
	int ret;

	at_module_reset();
	ret = at_load_module();
	ASSERT_EQ(0, ret) TH_LOG("loading %s: %s", at_module_path(), strerror(-ret));
	ASSERT_EQ(0, at_set_param("allocated", "1"));
	ASSERT_EQ(0, at_expectation(&e));
	EXPECT_EQ(0, at_check_rows(&e, counted, why, sizeof(why)))
		TH_LOG("profiling %s: %s", counted ? "on" : "off", why);
	ASSERT_EQ(0, at_set_param("allocated", "0"));
	EXPECT_EQ(0, at_check_rows(&e, false, why, sizeof(why)))
		TH_LOG("after freeing: %s", why);
	EXPECT_EQ(0, at_unload_module());
}

/*
 * $ALLOC_TAG_SYSCTL_RO=1: the kernel has CONFIG_MEM_ALLOC_PROFILING_DEBUG,
 * which makes vm.mem_profiling read-only whatever the boot parameter.
 */
static bool sysctl_read_only(void)
{
	return at_env_flag("ALLOC_TAG_SYSCTL_RO");
}

/* The table of boots and this expectation agree with the command line. */
TEST(command_line)
{
	char val[1024];
	bool has = cmdline_value(val, sizeof(val));

	/* The mode: what comes before an option. */
	if (has && expectation() != EXPECT_BAD && expectation() != EXPECT_NEVER)
		val[strcspn(val, ",")] = '\0';
	switch (expectation()) {
	case EXPECT_DEFAULT:
		EXPECT_FALSE(has) TH_LOG("%s=%s on the command line", PARAM, val);
		break;
	case EXPECT_ON:
		ASSERT_TRUE(has);
		EXPECT_STREQ("1", val);
		break;
	case EXPECT_OFF:
		ASSERT_TRUE(has);
		EXPECT_STREQ("0", val);
		break;
	case EXPECT_NEVER:
		ASSERT_TRUE(has);
		EXPECT_EQ(0, strncmp(val, "never", 5)) TH_LOG("%s=%s", PARAM, val);
		break;
	case EXPECT_BAD:
		EXPECT_TRUE(has) TH_LOG("no %s= on the command line", PARAM);
		break;
	}
}

TEST(sysctl_value)
{
	EXPECT_EQ(expect_on() ? 1 : 0, at_sysctl());
}

TEST(sysctl_writable)
{
	struct stat st;
	int was = at_sysctl(), ret;

	ASSERT_LE(0, was);
	ASSERT_EQ(0, stat(AT_SYSCTL, &st));
	if (expectation() == EXPECT_NEVER || sysctl_read_only()) {
		EXPECT_EQ(0444, st.st_mode & 07777);
		/* 6.12: proc_sysctl refuses to open it for writing, EACCES. */
		ret = at_write_file(AT_SYSCTL, "1\n");
		EXPECT_EQ(-EACCES, ret) TH_LOG("writing 1: %s", strerror(-ret));
		EXPECT_EQ(was, at_sysctl());
		return;
	}
	EXPECT_EQ(0644, st.st_mode & 07777);
	ret = at_write_file(AT_SYSCTL, was ? "1\n" : "0\n");
	EXPECT_EQ(0, ret) TH_LOG("writing %d back: %s", was, strerror(-ret));
}

/* Allocations are counted exactly when profiling is on, not at all if off. */
TEST(counts_module_allocations)
{
	check_accounting(_metadata, expect_on());
}

/* The sysctl switches counting at run time, except after =never. */
TEST(runtime_switch)
{
	int ret;

	if (sysctl_read_only() && expectation() != EXPECT_NEVER)
		SKIP(return, "vm.mem_profiling is read-only in this kernel");

	if (expectation() == EXPECT_NEVER) {
		ret = at_write_file(AT_SYSCTL, "1\n");
		EXPECT_NE(0, ret);
		EXPECT_EQ(0, at_sysctl());
		check_accounting(_metadata, false);
		return;
	}
	if (expectation() == EXPECT_OFF) {
		ASSERT_EQ(0, at_write_file(AT_SYSCTL, "1\n"));
		EXPECT_EQ(1, at_sysctl());
		check_accounting(_metadata, true);
		ASSERT_EQ(0, at_write_file(AT_SYSCTL, "0\n"));
		EXPECT_EQ(0, at_sysctl());
		return;
	}
	ASSERT_EQ(0, at_write_file(AT_SYSCTL, "0\n"));
	EXPECT_EQ(0, at_sysctl());
	check_accounting(_metadata, false);
	ASSERT_EQ(0, at_write_file(AT_SYSCTL, "1\n"));
	EXPECT_EQ(1, at_sysctl());
	check_accounting(_metadata, true);
}

/*
 * A malformed value gets a message that names the parameter and the value
 * (its first 32 characters; none to name if it is empty). 6.12 prints
 * "Malformed early option 'sysctl.vm.mem_profiling'" (early_param) and
 * "Failed to set sysctl parameter 'vm.mem_profiling=<value>': invalid
 * value" (sysctl boot arguments); for "1,bogus" only the latter, as its
 * kstrtobool() reads "1". A good value gets no complaint.
 */
TEST(boot_message)
{
	static const char *const complaints[] = {
		"invalid", "malformed", "unknown", "unrecognized", NULL };
	char val[1024] = "", needle[40], found[4096];
	char *log = at_kernel_log();
	bool ok;
	int i;

	ASSERT_NE(NULL, log);
	if (expectation() == EXPECT_BAD) {
		ASSERT_TRUE(cmdline_value(val, sizeof(val)));
		snprintf(needle, sizeof(needle), "%.32s", val);
		ok = find_message(log, needle[0] ? needle : NULL, found,
				  sizeof(found));
		EXPECT_TRUE(ok)
			TH_LOG("no message about mem_profiling naming '%s'", needle);
		if (ok)
			TH_LOG("message: %s", found);
	} else {
		/*
		 * 6.12 after =never also logs "Failed to set sysctl parameter
		 * 'vm.mem_profiling=never': permission denied (read-only?)":
		 * not a complaint about the value, so not looked for here.
		 */
		for (i = 0; complaints[i]; i++)
			EXPECT_FALSE(find_message(log, complaints[i], found,
						  sizeof(found)))
				TH_LOG("complaint about a good value: %s", found);
	}
	free(log);
}

TEST_HARNESS_MAIN
