// SPDX-License-Identifier: GPL-2.0
/*
 * alloc_tag_slab: two objects from a cache of its own, on request, so that
 * a test can make the first slab's obj_ext vector fail to allocate
 * (fail-nth) and then allocate from that slab again (fault_test.c).
 *
 * /sys/module/alloc_tag_slab/parameters/
 *   run     (w) write 1: allocate one object (the cache has no slab, so
 *           this makes one), allocate a second one from the same slab,
 *           free both and shrink the cache (its slab is freed). The write
 *           fails with ENOMEM if either object could not be had
 *   objects (r) objects allocated by the last run (0, 1 or 2)
 *
 * With CONFIG_MEM_ALLOC_PROFILING_DEBUG, a slab whose vector failed is
 * marked so; the next allocation from it allocates the vector and marks
 * every slot "empty" (the live objects have no reference), then accounts
 * the new object in its slot: the debug check of that slot must take
 * "empty" for what it is.
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>

/* Made at load: a cache of its own, never merged with another. */
static struct kmem_cache *cache;
static int objects;
module_param(objects, int, 0444);
MODULE_PARM_DESC(objects, "objects allocated by the last run");

static int run_set(const char *val, const struct kernel_param *kp)
{
	void *first, *second;
	bool run;
	int ret;

	ret = kstrtobool(val, &run);
	if (ret || !run)
		return ret;
	objects = 0;
	first = kmem_cache_alloc(cache, GFP_KERNEL);
	if (!first)
		return -ENOMEM;
	objects++;
	/* Any allocation may be made to fail (failslab), this one too. */
	second = kmem_cache_alloc(cache, GFP_KERNEL);
	if (second) {
		objects++;
		kmem_cache_free(cache, second);
	} else {
		ret = -ENOMEM;
	}
	kmem_cache_free(cache, first);
	/* No slab left: the next run makes a new one. */
	kmem_cache_shrink(cache);
	return ret;
}

static const struct kernel_param_ops run_ops = {
	.set = run_set,
};
module_param_cb(run, &run_ops, NULL, 0200);
MODULE_PARM_DESC(run, "write 1: allocate two objects of one slab");

static int __init alloc_tag_slab_init(void)
{
	cache = kmem_cache_create("alloc_tag_slab", 64, 0, SLAB_NO_MERGE, NULL);
	return cache ? 0 : -ENOMEM;
}
module_init(alloc_tag_slab_init);

static void __exit alloc_tag_slab_exit(void)
{
	kmem_cache_destroy(cache);
}
module_exit(alloc_tag_slab_exit);

MODULE_DESCRIPTION("alloc_tag test: the obj_ext vector of a slab failing");
MODULE_LICENSE("GPL");
