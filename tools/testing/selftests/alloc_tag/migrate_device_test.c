// SPDX-License-Identifier: GPL-2.0
/*
 * Migration of anonymous memory to device-private memory and back
 * (mm/migrate_device.c), driven through the test_hmm module
 * (lib/test_hmm.c, CONFIG_TEST_HMM) and its /dev/hmm_dmirror0.
 *
 * Device-private pages are never freed by the page allocator, so they must
 * never take a tag: migration swaps the tags of two folios only when both
 * have one (upstream's pgalloc_tag_swap()). Then, exactly:
 *
 * - faulting N pages in grows the fault's row by N pages in N calls;
 * - moving them to the device gives them back (the old pages are freed
 *   with their tag), while test_hmm's row of the system pages that back
 *   its device pages (dmirror_devmem_alloc_page()) grows by N;
 * - moving them back allocates N pages at test_hmm's migration row
 *   (dmirror_devmem_fault_alloc_and_copy()) and frees the backing pages;
 * - unmapping frees those, and every row is where it started.
 *
 * 6.12's C copies the tag instead of swapping it (pgalloc_tag_copy()), and
 * skips a target without a page_ext, as device memory has: it passes too.
 * In compressed mode every page has room for a reference, so a swap with a
 * device page would leave the old page freed uncounted and the fault's row
 * high for good.
 *
 * Loads /modules/test_hmm.ko if test_hmm is not loaded; skips without it.
 */
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "../kselftest_harness.h"
#include "alloc_tag_util.h"
#include "lib/test_hmm_uapi.h"

#define HMM_MODULE	"/modules/test_hmm.ko"
#define HMM_DEVICE	"/dev/hmm_dmirror0"
#define NPAGES		256

static char why[2048];

/* The one row that grew by exactly @pages pages in @pages calls. */
static const struct at_row *grew_by(const struct at_snap *a,
				    const struct at_snap *b, long long pages)
{
	long long page = sysconf(_SC_PAGESIZE);

	return at_snap_grew_by(a, b, pages * page, pages, why, sizeof(why));
}

FIXTURE(hmm) {
	int fd;
	char *buf, *mirror;
	size_t size;
	struct at_snap start, faulted, on_device, back, unmapped;
};

FIXTURE_SETUP(hmm)
{
	long page = sysconf(_SC_PAGESIZE);
	int ret;

	self->fd = -1;
	self->buf = MAP_FAILED;
	self->mirror = MAP_FAILED;
	if (at_sysctl() != 1)
		SKIP(return, "memory allocation profiling is off");
	if (!at_module_is_loaded("test_hmm")) {
		if (access(HMM_MODULE, F_OK))
			SKIP(return, "no %s (CONFIG_TEST_HMM)", HMM_MODULE);
		ret = at_load_module_file(HMM_MODULE, "");
		ASSERT_TRUE(ret == 0 || ret == -EEXIST)
			TH_LOG("loading %s: %s", HMM_MODULE, strerror(-ret));
	}
	self->fd = open(HMM_DEVICE, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd) TH_LOG("%s: %s", HMM_DEVICE, strerror(errno));
	self->size = NPAGES * page;
	self->buf = mmap(NULL, self->size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	ASSERT_EQ(0, madvise(self->buf, self->size, MADV_NOHUGEPAGE));
	/* Where test_hmm copies the data back to: faulted in beforehand. */
	self->mirror = mmap(NULL, self->size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mirror);
	ASSERT_EQ(0, at_snap_prepare(&self->start));
	ASSERT_EQ(0, at_snap_prepare(&self->faulted));
	ASSERT_EQ(0, at_snap_prepare(&self->on_device));
	ASSERT_EQ(0, at_snap_prepare(&self->back));
	ASSERT_EQ(0, at_snap_prepare(&self->unmapped));
	at_touch_stack();
	/* Twice: the first read may grow this process's heap. */
	ASSERT_EQ(0, at_snap_take(&self->start));
	ASSERT_EQ(0, at_snap_take(&self->start));
}

FIXTURE_TEARDOWN(hmm)
{
	if (self->buf != MAP_FAILED)
		munmap(self->buf, self->size);
	if (self->mirror != MAP_FAILED)
		munmap(self->mirror, self->size);
	if (self->fd >= 0)
		close(self->fd);
}

static int dmirror(int fd, unsigned long request, void *addr, void *ptr,
		   unsigned long npages, struct hmm_dmirror_cmd *cmd)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->addr = (unsigned long)addr;
	cmd->ptr = (unsigned long)ptr;
	cmd->npages = npages;
	return ioctl(fd, request, cmd) ? -errno : 0;
}

TEST_F_TIMEOUT(hmm, to_device_and_back, 120)
{
	const struct at_row *fault, *backing, *fetch;
	struct hmm_dmirror_cmd cmd;
	long long bytes, calls, page = sysconf(_SC_PAGESIZE);
	int ret;

	memset(self->buf, 0x5a, self->size);
	ASSERT_EQ(0, at_snap_take(&self->faulted));
	fault = grew_by(&self->start, &self->faulted, NPAGES);
	ASSERT_NE(NULL, fault) TH_LOG("no row grew by the %d pages faulted in; %s",
				      NPAGES, why);

	ret = dmirror(self->fd, HMM_DMIRROR_MIGRATE_TO_DEV, self->buf,
		      self->mirror, NPAGES, &cmd);
	ASSERT_EQ(0, ret) TH_LOG("migrating to the device: %s", strerror(-ret));
	ASSERT_EQ(NPAGES, cmd.cpages);
	ASSERT_EQ(0, at_snap_take(&self->on_device));
	at_snap_growth(&self->start, &self->on_device, fault, &bytes, &calls);
	EXPECT_EQ(0, bytes)
		TH_LOG("the fault's row kept %lld bytes of pages now on the device", bytes);
	EXPECT_EQ(0, calls);
	backing = grew_by(&self->start, &self->on_device, NPAGES);
	ASSERT_NE(NULL, backing) TH_LOG("no row of test_hmm's backing pages; %s", why);
	EXPECT_STREQ("test_hmm", backing->module);
	EXPECT_TRUE(at_snap_none_negative(&self->on_device, why, sizeof(why)))
		TH_LOG("on the device: %s", why);

	ret = dmirror(self->fd, HMM_DMIRROR_MIGRATE_TO_SYS, self->buf,
		      self->mirror, NPAGES, &cmd);
	ASSERT_EQ(0, ret) TH_LOG("migrating back: %s", strerror(-ret));
	ASSERT_EQ(NPAGES, cmd.cpages);
	ASSERT_EQ(0, at_snap_take(&self->back));
	at_snap_growth(&self->start, &self->back, backing, &bytes, &calls);
	EXPECT_EQ(0, bytes) TH_LOG("backing pages still counted: %lld bytes", bytes);
	EXPECT_EQ(0, calls);
	fetch = grew_by(&self->start, &self->back, NPAGES);
	ASSERT_NE(NULL, fetch) TH_LOG("no row of the pages migrated back; %s", why);
	EXPECT_STREQ("test_hmm", fetch->module);
	EXPECT_EQ((long long)NPAGES * page, self->size);

	ASSERT_EQ(0, munmap(self->buf, self->size));
	self->buf = MAP_FAILED;
	ASSERT_EQ(0, at_snap_take(&self->unmapped));
	for (int i = 0; i < 3; i++) {
		const struct at_row *r = i == 0 ? fault : i == 1 ? backing : fetch;

		at_snap_growth(&self->start, &self->unmapped, r, &bytes, &calls);
		EXPECT_EQ(0, bytes) TH_LOG("%s:%d func:%s: %lld bytes left after munmap",
					   r->file, r->line, r->func, bytes);
		EXPECT_EQ(0, calls);
	}
	EXPECT_TRUE(at_snap_none_negative(&self->unmapped, why, sizeof(why)))
		TH_LOG("unmapped: %s", why);
	/* Only now: printing may fault in memory of this process. */
	TH_LOG("faulted in at %s:%d func:%s", fault->file, fault->line, fault->func);
}

TEST_HARNESS_MAIN
