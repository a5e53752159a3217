// SPDX-License-Identifier: GPL-2.0
/*
 * What a write to vm.mem_profiling needs and does, in every form it takes:
 * "0" and "1" (6.12's proc_do_static_key()) and, on a kernel with
 * compressed mode, the boot parameter's "0,compressed" and "1,compressed"
 * (the sysctl core writes the command line's value again after boot), which
 * are taken only with the mode in force.
 *
 * Every form needs CAP_SYS_ADMIN, even from euid 0 (6.12: EPERM), and a
 * write at a non-zero file position is ignored as proc_dointvec() ignores
 * it (kernel.sysctl_writes_strict=1, the default: the write "succeeds" and
 * changes nothing).
 *
 * $ALLOC_TAG_COMPRESSED=1: the kernel has compressed mode (else, C 6.12,
 * the comma forms are malformed: EINVAL). $ALLOC_TAG_SYSCTL_RO=1: the
 * sysctl is read-only in this kernel, and every test skips.
 */
#define _GNU_SOURCE
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "../kselftest_harness.h"
#include "alloc_tag_util.h"

#define COMPRESSED_SYSCTL	"/proc/sys/vm/mem_profiling_compressed"
#define STRICT_SYSCTL		"/proc/sys/kernel/sysctl_writes_strict"

/* The kernel is in compressed mode. */
static bool compressed(void)
{
	return at_env_flag("ALLOC_TAG_COMPRESSED") &&
	       at_read_ll(COMPRESSED_SYSCTL) == 1;
}

/* A write of @val at @pos of a fresh open: bytes written, or -errno. */
static long pwrite_sysctl(const char *val, off_t pos)
{
	int fd = open(AT_SYSCTL, O_WRONLY);
	ssize_t n;
	int err;

	if (fd < 0)
		return -errno;
	n = pwrite(fd, val, strlen(val), pos);
	err = errno;
	close(fd);
	return n < 0 ? -err : n;
}

/* Drops CAP_SYS_ADMIN from the effective set of this process: 0 or -errno. */
static int drop_sys_admin(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	data[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective &= ~CAP_TO_MASK(CAP_SYS_ADMIN);
	return syscall(SYS_capset, &hdr, data) ? -errno : 0;
}

/*
 * Writes @val from a child of euid 0 without CAP_SYS_ADMIN: the write's
 * result (bytes or -errno), or -ECHILD if the child could not be run.
 */
static long write_without_sys_admin(const char *val)
{
	int pipefd[2], status;
	long result = -ECHILD;
	pid_t pid;

	if (pipe(pipefd))
		return -ECHILD;
	pid = fork();
	if (pid == 0) {
		long r = drop_sys_admin();

		if (!r)
			r = pwrite_sysctl(val, 0);
		if (write(pipefd[1], &r, sizeof(r)) != sizeof(r))
			_exit(1);
		_exit(0);
	}
	close(pipefd[1]);
	if (pid < 0 || read(pipefd[0], &result, sizeof(result)) != sizeof(result))
		result = -ECHILD;
	close(pipefd[0]);
	if (pid > 0)
		waitpid(pid, &status, 0);
	return result;
}

/*
 * The forms a test writes: the value that is not in force, plain and, in
 * compressed mode, with ",compressed".
 */
struct forms {
	const char *val[2];
	int n;
};

static struct forms forms_to_flip(int now)
{
	struct forms f = { .val = { now ? "0\n" : "1\n" }, .n = 1 };

	if (compressed())
		f.val[f.n++] = now ? "0,compressed\n" : "1,compressed\n";
	return f;
}

FIXTURE(sysctl) {
	int was;
};

FIXTURE_SETUP(sysctl)
{
	struct stat st;

	if (at_env_flag("ALLOC_TAG_SYSCTL_RO"))
		SKIP(return, "vm.mem_profiling is read-only in this kernel");
	ASSERT_EQ(0, stat(AT_SYSCTL, &st));
	if (!(st.st_mode & 0200))
		SKIP(return, "vm.mem_profiling is read-only in this boot");
	self->was = at_sysctl();
	ASSERT_LE(0, self->was);
}

FIXTURE_TEARDOWN(sysctl)
{
	if (self->was >= 0)
		at_write_file(AT_SYSCTL, self->was ? "1\n" : "0\n");
}

/* Without CAP_SYS_ADMIN every form is refused with EPERM, and nothing changes. */
TEST_F(sysctl, every_form_needs_cap_sys_admin)
{
	struct forms f = forms_to_flip(self->was);
	long ret;
	int i;

	for (i = 0; i < f.n; i++) {
		ret = write_without_sys_admin(f.val[i]);
		EXPECT_EQ(-EPERM, ret)
			TH_LOG("writing %.*s without CAP_SYS_ADMIN: %s",
			       (int)strcspn(f.val[i], "\n"), f.val[i],
			       ret < 0 ? strerror(-ret) : "written");
		EXPECT_EQ(self->was, at_sysctl());
	}
}

/*
 * A write at a non-zero position is ignored the way proc_dointvec() ignores
 * it, whatever the form: it returns its length and changes nothing.
 */
TEST_F(sysctl, write_at_offset_is_ignored)
{
	struct forms f = forms_to_flip(self->was);
	long ret;
	int i;

	if (at_read_ll(STRICT_SYSCTL) != 1)
		SKIP(return, "kernel.sysctl_writes_strict is not 1");
	for (i = 0; i < f.n; i++) {
		ret = pwrite_sysctl(f.val[i], 3);
		EXPECT_EQ((long)strlen(f.val[i]), ret)
			TH_LOG("writing %.*s at 3: %s",
			       (int)strcspn(f.val[i], "\n"), f.val[i],
			       ret < 0 ? strerror(-ret) : "short");
		EXPECT_EQ(self->was, at_sysctl());
	}
}

/* With CAP_SYS_ADMIN, at position 0, each form switches profiling. */
TEST_F(sysctl, every_form_switches)
{
	struct forms off = forms_to_flip(1), on = forms_to_flip(0);
	int i;

	for (i = 0; i < off.n; i++) {
		EXPECT_EQ((long)strlen(off.val[i]), pwrite_sysctl(off.val[i], 0));
		EXPECT_EQ(0, at_sysctl()) TH_LOG("after %s", off.val[i]);
		EXPECT_EQ((long)strlen(on.val[i]), pwrite_sysctl(on.val[i], 0));
		EXPECT_EQ(1, at_sysctl()) TH_LOG("after %s", on.val[i]);
	}
}

/*
 * The mode after the comma is decided at boot: a write naming another one,
 * or anything but "compressed", is refused (EINVAL) and changes nothing;
 * so is every comma form on C 6.12.
 */
TEST_F(sysctl, other_modes_are_refused)
{
	const char *const bad[] = {
		compressed() ? "1,bogus\n" : "1,compressed\n",
		compressed() ? "0,bogus\n" : "0,compressed\n",
		"never\n", "1,\n",
	};
	unsigned int i;
	long ret;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		ret = pwrite_sysctl(bad[i], 0);
		EXPECT_EQ(-EINVAL, ret)
			TH_LOG("writing %.*s: %s", (int)strcspn(bad[i], "\n"),
			       bad[i], ret < 0 ? strerror(-ret) : "written");
		EXPECT_EQ(self->was, at_sysctl());
	}
}

#define RHASH_NAME	"alloc_tag_rhash"

/*
 * An rhashtable made while profiling is off and grown after it is turned
 * on: rhashtable_init() records its caller's tag, so the new bucket
 * tables are counted on the module's rhashtable_init() line. (alloc_hooks()
 * sets current->alloc_tag only while profiling is on; a table that
 * recorded no tag would stay unaccounted for good.)
 */
TEST_F(sysctl, rhashtable_made_while_off_counts_after)
{
	const struct at_row *r;
	struct at_row rows[64];
	char path[256];
	int line, n, ret;

	at_unload_module_name(RHASH_NAME);
	ASSERT_EQ(2, pwrite_sysctl("0\n", 0));
	ret = at_load_module_file(at_module_file(RHASH_NAME, path, sizeof(path)), "");
	ASSERT_EQ(0, ret) TH_LOG("loading %s: %s", path, strerror(-ret));
	line = at_mod_param(RHASH_NAME, "init_line");
	EXPECT_LT(0, line);
	EXPECT_EQ(2, pwrite_sysctl("1\n", 0));
	/* From 16 buckets: more than 75 % full a few times over. */
	EXPECT_EQ(0, at_set_mod_param(RHASH_NAME, "fill", "1000"));
	n = at_read_rows(RHASH_NAME, rows, 64);
	r = n > 0 ? at_find_row(rows, n < 64 ? n : 64, RHASH_NAME ".c", line) : NULL;
	EXPECT_TRUE(r && r->calls > 0 && r->bytes > 0)
		TH_LOG("the row of %s.c:%d: %s, %lld bytes, %llu calls", RHASH_NAME,
		       line, r ? "there" : "none", r ? r->bytes : 0, r ? r->calls : 0);
	EXPECT_EQ(0, at_unload_module_name(RHASH_NAME));
}

TEST_HARNESS_MAIN
