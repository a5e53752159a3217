// SPDX-License-Identifier: GPL-2.0
/*
 * alloc_tag_pages: page blocks split or freed in parts on request, so a
 * test can read /proc/allocinfo in between (pgtag_test.c).
 *
 * /sys/module/alloc_tag_pages/parameters/
 *   split       (rw) split pages held: writing N (0..8) with none held
 *               allocates one order-3 block (not compound) at split_line,
 *               split_page()s it into 8 pages and keeps the first N; with
 *               some held, frees them down to N (more: EBUSY)
 *   split_line  (ro) the line of that allocation (0 until the first)
 *   tail        (rw) write 1: allocate an order-3 block (not compound) at
 *               tail_line, take a second reference to its first page and
 *               __free_pages() it: the 7 other pages are freed, the first
 *               stays; write 0: free that page. Reads 1 while it is held
 *   tail_line   (ro) the line of that allocation (0 until the first)
 *   single      (rw) write 1: allocate one page at single_line and hold it;
 *               write 0: free it. Reads 1 while it is held
 *   single_line (ro) the line of that allocation (0 until the first)
 *   single_reused (ro) 1 if that page is the split page freed last (a
 *               freed page is handed out again first on the same CPU)
 *
 * Unloading frees whatever is held.
 */
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/sysfs.h>

#define PAGES_ORDER	3
#define PAGES_NR	(1 << PAGES_ORDER)

static int split_line;
module_param(split_line, int, 0444);
MODULE_PARM_DESC(split_line, "source line of the block that is split");
static int tail_line;
module_param(tail_line, int, 0444);
MODULE_PARM_DESC(tail_line, "source line of the block freed but its first page");

static DEFINE_MUTEX(pages_lock);
static struct page *split_pages[PAGES_NR];
static unsigned int split_held;
static struct page *tail_page;
static struct page *single_page;
/* The split page freed last, compared, never dereferenced. */
static struct page *split_last_freed;
static int single_reused;
module_param(single_reused, int, 0444);
MODULE_PARM_DESC(single_reused, "1: the single page is the split page freed last");
static int single_line;
module_param(single_line, int, 0444);
MODULE_PARM_DESC(single_line, "source line of the single page");

/* Frees split pages, the last first, until @keep are held. */
static void split_free_to(unsigned int keep)
{
	while (split_held > keep) {
		split_last_freed = split_pages[--split_held];
		__free_page(split_pages[split_held]);
		split_pages[split_held] = NULL;
	}
}

static int split_set(const char *val, const struct kernel_param *kp)
{
	struct page *page;
	unsigned int want, i;
	int ret = kstrtouint(val, 0, &want);

	if (ret)
		return ret;
	if (want > PAGES_NR)
		return -EINVAL;
	mutex_lock(&pages_lock);
	if (split_held) {
		ret = want <= split_held ? 0 : -EBUSY;
		if (!ret)
			split_free_to(want);
	} else if (want) {
		page = (split_line = __LINE__, alloc_pages(GFP_KERNEL, PAGES_ORDER));
		if (page) {
			split_page(page, PAGES_ORDER);
			for (i = 0; i < PAGES_NR; i++)
				split_pages[i] = page + i;
			split_held = PAGES_NR;
			split_free_to(want);
		} else {
			ret = -ENOMEM;
		}
	}
	mutex_unlock(&pages_lock);
	return ret;
}

static int split_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%u\n", split_held);
}

static const struct kernel_param_ops split_ops = {
	.set = split_set,
	.get = split_get,
};
module_param_cb(split, &split_ops, NULL, 0644);
MODULE_PARM_DESC(split, "pages of a split order-3 block to hold");

static int tail_set(const char *val, const struct kernel_param *kp)
{
	struct page *page;
	bool want;
	int ret = kstrtobool(val, &want);

	if (ret)
		return ret;
	mutex_lock(&pages_lock);
	if (want && !tail_page) {
		page = (tail_line = __LINE__, alloc_pages(GFP_KERNEL, PAGES_ORDER));
		if (page) {
			/* Held twice: __free_pages() frees the tail pages only. */
			get_page(page);
			__free_pages(page, PAGES_ORDER);
			tail_page = page;
		} else {
			ret = -ENOMEM;
		}
	} else if (!want && tail_page) {
		__free_page(tail_page);
		tail_page = NULL;
	}
	mutex_unlock(&pages_lock);
	return ret;
}

static int tail_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%d\n", tail_page != NULL);
}

static const struct kernel_param_ops tail_ops = {
	.set = tail_set,
	.get = tail_get,
};
module_param_cb(tail, &tail_ops, NULL, 0644);
MODULE_PARM_DESC(tail, "1: free an order-3 block but its first page, 0: free that");

static int single_set(const char *val, const struct kernel_param *kp)
{
	struct page *page;
	bool want;
	int ret = kstrtobool(val, &want);

	if (ret)
		return ret;
	mutex_lock(&pages_lock);
	if (want && !single_page) {
		page = (single_line = __LINE__, alloc_page(GFP_KERNEL));
		if (page) {
			single_reused = page == split_last_freed;
			single_page = page;
		} else {
			ret = -ENOMEM;
		}
	} else if (!want && single_page) {
		__free_page(single_page);
		single_page = NULL;
	}
	mutex_unlock(&pages_lock);
	return ret;
}

static int single_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%d\n", single_page != NULL);
}

static const struct kernel_param_ops single_ops = {
	.set = single_set,
	.get = single_get,
};
module_param_cb(single, &single_ops, NULL, 0644);
MODULE_PARM_DESC(single, "1: allocate and hold one page, 0: free it");

static int __init alloc_tag_pages_init(void)
{
	return 0;
}

static void __exit alloc_tag_pages_exit(void)
{
	mutex_lock(&pages_lock);
	split_free_to(0);
	if (tail_page)
		__free_page(tail_page);
	tail_page = NULL;
	if (single_page)
		__free_page(single_page);
	single_page = NULL;
	mutex_unlock(&pages_lock);
}

module_init(alloc_tag_pages_init);
module_exit(alloc_tag_pages_exit);
MODULE_DESCRIPTION("Page blocks split and freed in parts, for /proc/allocinfo tests");
MODULE_LICENSE("GPL");
