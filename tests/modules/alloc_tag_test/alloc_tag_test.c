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
 *   give           (rw) with keep: module unload hands live allocations to
 *                  the alloc_tag_keeper module (tests/modules/
 *                  alloc_tag_keeper), which frees them on request; leaks
 *                  them as keep does if that module is not loaded
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
static bool give;
module_param(give, bool, 0644);
MODULE_PARM_DESC(give, "with keep: hand live allocations to alloc_tag_keeper at unload");

/*
 * Exported by alloc_tag_keeper (its alloc_tag_keeper.h) and looked up with
 * symbol_get() at unload, so this module loads whether or not that one is
 * loaded. symbol_get() needs them declared.
 */
void alloc_tag_keeper_hold_pages(struct page *page, unsigned int order);
void alloc_tag_keeper_hold_obj(void *obj);

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

/*
 * Hands every live allocation over to alloc_tag_keeper, which frees them
 * later; they still count against this module's tags. False if
 * alloc_tag_keeper is not loaded (nothing is handed over then).
 */
static bool alloc_tag_test_give(void)
{
	void (*hold_pages)(struct page *page, unsigned int order);
	void (*hold_obj)(void *obj);
	int i;

	hold_pages = symbol_get(alloc_tag_keeper_hold_pages);
	hold_obj = symbol_get(alloc_tag_keeper_hold_obj);
	if (!hold_pages || !hold_obj)
		goto out;
	for (i = 0; i < TEST_PAGE_ALLOCS; i++) {
		hold_pages(test_pages[i], TEST_PAGE_ORDER);
		test_pages[i] = NULL;
	}
	for (i = 0; i < TEST_KMALLOC_OBJECTS; i++) {
		hold_obj(test_objects[i]);
		test_objects[i] = NULL;
	}
	test_allocated = false;
out:
	if (hold_pages)
		symbol_put(alloc_tag_keeper_hold_pages);
	if (hold_obj)
		symbol_put(alloc_tag_keeper_hold_obj);
	return hold_pages && hold_obj;
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
	if (!test_allocated || !keep) {
		alloc_tag_test_free();
	} else if (give && alloc_tag_test_give()) {
		pr_info("alloc_tag_test: unloading; %d page blocks and %d objects handed to alloc_tag_keeper\n",
			TEST_PAGE_ALLOCS, TEST_KMALLOC_OBJECTS);
	} else {
		if (give)
			pr_info("alloc_tag_test: alloc_tag_keeper is not loaded; nothing handed over\n");
		pr_info("alloc_tag_test: unloading with %d page blocks and %d objects live (leaked on purpose)\n",
			TEST_PAGE_ALLOCS, TEST_KMALLOC_OBJECTS);
	}
	mutex_unlock(&test_lock);
}

module_init(alloc_tag_test_init);
module_exit(alloc_tag_test_exit);
MODULE_DESCRIPTION("Known allocations on request, for /proc/allocinfo tests");
MODULE_LICENSE("GPL");
