// SPDX-License-Identifier: GPL-2.0
/*
 * alloc_tag_keeper: holds allocations another module hands over, so that
 * module can unload while they stay live, and frees them on request. The
 * allocations keep counting against the tags of the module that made them.
 *
 * Exports (GPL), for a module that looks them up with symbol_get():
 *   alloc_tag_keeper_hold_pages(page, order)  a block of alloc_pages()
 *   alloc_tag_keeper_hold_obj(obj)            a kmalloc() object
 *
 * /sys/module/alloc_tag_keeper/parameters/
 *   release  (rw) write 1: free everything held; reads 0
 *   held     (ro) how many allocations are held
 *
 * Unloading the keeper frees everything it holds. It allocates nothing
 * itself, so it has no allocation tags of its own.
 */
#include <linux/gfp.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/sysfs.h>

#include "alloc_tag_keeper.h"

/* More than alloc_tag_test hands over (8 page blocks and 32 objects). */
#define KEEPER_MAX	256

/* A page block (@page, @order) or a kmalloc() object (@obj). */
struct keeper_entry {
	struct page *page;
	unsigned int order;
	void *obj;
};

static DEFINE_MUTEX(keeper_lock);
static struct keeper_entry keeper_entries[KEEPER_MAX];
static unsigned int keeper_held;
module_param_named(held, keeper_held, uint, 0444);
MODULE_PARM_DESC(held, "number of allocations held");

/* Takes @entry over; leaks it if the keeper is full. */
static void keeper_hold(const struct keeper_entry *entry)
{
	mutex_lock(&keeper_lock);
	if (keeper_held < KEEPER_MAX)
		keeper_entries[keeper_held++] = *entry;
	else
		pr_warn("alloc_tag_keeper: full (%d held), leaking an allocation\n",
			KEEPER_MAX);
	mutex_unlock(&keeper_lock);
}

void alloc_tag_keeper_hold_pages(struct page *page, unsigned int order)
{
	struct keeper_entry entry = { .page = page, .order = order };

	if (page)
		keeper_hold(&entry);
}
EXPORT_SYMBOL_GPL(alloc_tag_keeper_hold_pages);

void alloc_tag_keeper_hold_obj(void *obj)
{
	struct keeper_entry entry = { .obj = obj };

	if (obj)
		keeper_hold(&entry);
}
EXPORT_SYMBOL_GPL(alloc_tag_keeper_hold_obj);

/* Frees everything held; returns how many allocations that was. */
static unsigned int keeper_release(void)
{
	unsigned int i, n;

	mutex_lock(&keeper_lock);
	n = keeper_held;
	for (i = 0; i < n; i++) {
		struct keeper_entry *entry = &keeper_entries[i];

		if (entry->page)
			__free_pages(entry->page, entry->order);
		else
			kfree(entry->obj);
		memset(entry, 0, sizeof(*entry));
	}
	keeper_held = 0;
	mutex_unlock(&keeper_lock);
	return n;
}

static int release_set(const char *val, const struct kernel_param *kp)
{
	bool want;
	int ret = kstrtobool(val, &want);

	if (ret)
		return ret;
	if (want)
		pr_info("alloc_tag_keeper: released %u allocations\n",
			keeper_release());
	return 0;
}

static int release_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "0\n");
}

static const struct kernel_param_ops release_ops = {
	.set = release_set,
	.get = release_get,
};
module_param_cb(release, &release_ops, NULL, 0644);
MODULE_PARM_DESC(release, "write 1: free every allocation held");

static int __init alloc_tag_keeper_init(void)
{
	return 0;
}

static void __exit alloc_tag_keeper_exit(void)
{
	unsigned int n = keeper_release();

	if (n)
		pr_info("alloc_tag_keeper: unloading; freed %u allocations\n", n);
}

module_init(alloc_tag_keeper_init);
module_exit(alloc_tag_keeper_exit);
MODULE_DESCRIPTION("Holds another module's allocations past its unload");
MODULE_LICENSE("GPL");
