// SPDX-License-Identifier: GPL-2.0
/*
 * An rhashtable made when the module loads, for sysctl_test:
 * rhashtable_init() records its caller's allocation tag, and the bucket
 * tables the table allocates as it grows later are accounted to that line,
 * whether profiling was on when the table was made or not.
 *
 * init_line (read-only) is the line of the rhashtable_init() call. Writing
 * N to fill inserts N more objects and waits for the growth they start.
 */
#include <linux/module.h>
#include <linux/rhashtable.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

struct rhash_obj {
	u32 key;
	struct rhash_head node;
};

static const struct rhashtable_params rhash_params = {
	.key_len = sizeof(u32),
	.key_offset = offsetof(struct rhash_obj, key),
	.head_offset = offsetof(struct rhash_obj, node),
	.min_size = 16,
};

static struct rhashtable rhash_table;
static u32 rhash_objects;
static DEFINE_MUTEX(rhash_lock);

static int init_line;
module_param(init_line, int, 0444);

static int fill_set(const char *val, const struct kernel_param *kp)
{
	unsigned int n, i;
	int ret = kstrtouint(val, 0, &n);

	if (ret)
		return ret;
	mutex_lock(&rhash_lock);
	for (i = 0; i < n && !ret; i++) {
		struct rhash_obj *obj = kzalloc(sizeof(*obj), GFP_KERNEL);

		if (!obj) {
			ret = -ENOMEM;
			break;
		}
		obj->key = rhash_objects;
		ret = rhashtable_insert_fast(&rhash_table, &obj->node, rhash_params);
		if (ret)
			kfree(obj);
		else
			rhash_objects++;
	}
	mutex_unlock(&rhash_lock);
	/* The table grows in its own work item. */
	flush_work(&rhash_table.run_work);
	return ret;
}

static int fill_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(rhash_objects));
}

static const struct kernel_param_ops fill_ops = {
	.set = fill_set,
	.get = fill_get,
};
module_param_cb(fill, &fill_ops, NULL, 0644);

static void rhash_free(void *ptr, void *arg)
{
	kfree(ptr);
}

static int __init alloc_tag_rhash_init(void)
{
	init_line = __LINE__ + 1;
	return rhashtable_init(&rhash_table, &rhash_params);
}

static void __exit alloc_tag_rhash_exit(void)
{
	rhashtable_free_and_destroy(&rhash_table, rhash_free, NULL);
}

module_init(alloc_tag_rhash_init);
module_exit(alloc_tag_rhash_exit);
MODULE_DESCRIPTION("An rhashtable that grows, for the allocation profiling tests");
MODULE_LICENSE("GPL");
