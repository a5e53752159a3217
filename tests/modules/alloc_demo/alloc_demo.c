// SPDX-License-Identifier: GPL-2.0
/*
 * A module that keeps a known amount of memory while it is loaded, so its
 * rows in /proc/allocinfo can be checked: 4 pages from one line, and
 * 16 objects of 1000 bytes (1024 once slab rounds up) from another.
 */
#include <linux/gfp.h>
#include <linux/module.h>
#include <linux/slab.h>

#define DEMO_OBJECTS	16

static struct page *demo_pages;
static void *demo_objects[DEMO_OBJECTS];

static int __init alloc_demo_init(void)
{
	int i;

	demo_pages = alloc_pages(GFP_KERNEL, 2);
	if (!demo_pages)
		return -ENOMEM;
	for (i = 0; i < DEMO_OBJECTS; i++) {
		demo_objects[i] = kmalloc(1000, GFP_KERNEL);
		if (!demo_objects[i])
			goto undo;
	}
	return 0;
undo:
	while (i--)
		kfree(demo_objects[i]);
	__free_pages(demo_pages, 2);
	return -ENOMEM;
}

static void __exit alloc_demo_exit(void)
{
	int i;

	for (i = 0; i < DEMO_OBJECTS; i++)
		kfree(demo_objects[i]);
	__free_pages(demo_pages, 2);
}

module_init(alloc_demo_init);
module_exit(alloc_demo_exit);
MODULE_DESCRIPTION("Known allocations for /proc/allocinfo tests");
MODULE_LICENSE("GPL");
