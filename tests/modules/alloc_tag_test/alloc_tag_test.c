// SPDX-License-Identifier: GPL-2.0
/*
 * alloc_tag_test: allocations of a known size from two known lines, made
 * and freed on request, so a test can read /proc/allocinfo in between.
 *
 * /sys/module/alloc_tag_test/parameters/
 *   allocated      (rw) write 1: make every allocation below; write 0: free
 *                  them; reads 1 while they are live
 *   keep           (rw) 1: module unload leaves live allocations alone
 *                  (leaks them), so the kernel's unload check sees them
 *   page_order     (ro) alloc_pages() order of each page block
 *   page_allocs    (ro) how many page blocks, all from one line
 *   page_line      (ro) that line (0 until the first allocation)
 *   kmalloc_size   (ro) size of each kmalloc() object: a kmalloc cache size,
 *                  so the accounted size is exact
 *   kmalloc_objects (ro) how many objects, all from one line
 *   kmalloc_line   (ro) that line (0 until the first allocation)
 *
 * Both calls sit in alloc_tag_test_alloc(): the rows of this module are
 * "<dir>/alloc_tag_test.c:<line> [alloc_tag_test] func:alloc_tag_test_alloc".
 */
#include <linux/gfp.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/sysfs.h>

#define TEST_PAGE_ORDER		2
#define TEST_PAGE_ALLOCS	8
#define TEST_KMALLOC_SIZE	512
#define TEST_KMALLOC_OBJECTS	32

static int page_order = TEST_PAGE_ORDER;
module_param(page_order, int, 0444);
MODULE_PARM_DESC(page_order, "order of each page block");
static int page_allocs = TEST_PAGE_ALLOCS;
module_param(page_allocs, int, 0444);
MODULE_PARM_DESC(page_allocs, "number of page blocks");
static int page_line;
module_param(page_line, int, 0444);
MODULE_PARM_DESC(page_line, "source line of the alloc_pages() call");
static int kmalloc_size = TEST_KMALLOC_SIZE;
module_param(kmalloc_size, int, 0444);
MODULE_PARM_DESC(kmalloc_size, "size of each kmalloc() object");
static int kmalloc_objects = TEST_KMALLOC_OBJECTS;
module_param(kmalloc_objects, int, 0444);
MODULE_PARM_DESC(kmalloc_objects, "number of kmalloc() objects");
static int kmalloc_line;
module_param(kmalloc_line, int, 0444);
MODULE_PARM_DESC(kmalloc_line, "source line of the kmalloc() call");
static bool keep;
module_param(keep, bool, 0644);
MODULE_PARM_DESC(keep, "leave live allocations behind at unload");

static DEFINE_MUTEX(test_lock);
static bool test_allocated;
static struct page *test_pages[TEST_PAGE_ALLOCS];
static void *test_objects[TEST_KMALLOC_OBJECTS];

static void alloc_tag_test_free(void)
{
	int i;

	for (i = 0; i < TEST_PAGE_ALLOCS; i++) {
		if (test_pages[i])
			__free_pages(test_pages[i], TEST_PAGE_ORDER);
		test_pages[i] = NULL;
	}
	for (i = 0; i < TEST_KMALLOC_OBJECTS; i++) {
		kfree(test_objects[i]);
		test_objects[i] = NULL;
	}
	test_allocated = false;
}

/*
 * Each call and the __LINE__ that names it share one source line: the line
 * a tag records is the line of the allocation macro's use.
 */
static int alloc_tag_test_alloc(void)
{
	int i;

	for (i = 0; i < TEST_PAGE_ALLOCS; i++) {
		test_pages[i] = (page_line = __LINE__, alloc_pages(GFP_KERNEL, TEST_PAGE_ORDER));
		if (!test_pages[i])
			goto fail;
	}
	for (i = 0; i < TEST_KMALLOC_OBJECTS; i++) {
		test_objects[i] = (kmalloc_line = __LINE__, kmalloc(TEST_KMALLOC_SIZE, GFP_KERNEL));
		if (!test_objects[i])
			goto fail;
	}
	test_allocated = true;
	return 0;
fail:
	alloc_tag_test_free();
	return -ENOMEM;
}

static int allocated_set(const char *val, const struct kernel_param *kp)
{
	bool want;
	int ret = kstrtobool(val, &want);

	if (ret)
		return ret;
	mutex_lock(&test_lock);
	if (want && test_allocated)
		ret = -EBUSY;
	else if (want)
		ret = alloc_tag_test_alloc();
	else
		alloc_tag_test_free();
	mutex_unlock(&test_lock);
	return ret;
}

static int allocated_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%d\n", test_allocated);
}

static const struct kernel_param_ops allocated_ops = {
	.set = allocated_set,
	.get = allocated_get,
};
module_param_cb(allocated, &allocated_ops, NULL, 0644);
MODULE_PARM_DESC(allocated, "1: allocate everything, 0: free it");

static int __init alloc_tag_test_init(void)
{
	return 0;
}

static void __exit alloc_tag_test_exit(void)
{
	mutex_lock(&test_lock);
	if (test_allocated && keep)
		pr_info("alloc_tag_test: unloading with %d page blocks and %d objects live (leaked on purpose)\n",
			TEST_PAGE_ALLOCS, TEST_KMALLOC_OBJECTS);
	else
		alloc_tag_test_free();
	mutex_unlock(&test_lock);
}

module_init(alloc_tag_test_init);
module_exit(alloc_tag_test_exit);
MODULE_DESCRIPTION("Known allocations on request, for /proc/allocinfo tests");
MODULE_LICENSE("GPL");
