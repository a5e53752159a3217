// SPDX-License-Identifier: GPL-2.0
/*
 * alloc_tag_many: a module with 4096 allocation call sites, hence 4096
 * allocation tags, for the test of a module whose tags do not fit in the
 * page->flags bits of compressed mode (pgtag_test.c, booted with
 * alloc_tag.compressed_bits= just wide enough for the kernel's own tags).
 *
 * Each use of kmalloc() is a call site with a tag of its own. They run only
 * with run=1 (each allocates 8 bytes and frees them): the tags are there
 * whether or not the code runs.
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>

static bool run;
module_param(run, bool, 0444);
MODULE_PARM_DESC(run, "run every call site once at load");

#define SITE1		kfree(kmalloc(8, GFP_KERNEL));
#define SITE4		SITE1 SITE1 SITE1 SITE1
#define SITE16		SITE4 SITE4 SITE4 SITE4
#define SITE64		SITE16 SITE16 SITE16 SITE16
#define SITE256		SITE64 SITE64 SITE64 SITE64
#define SITE1024	SITE256 SITE256 SITE256 SITE256

static noinline void alloc_tag_many_run(void)
{
	SITE1024 SITE1024 SITE1024 SITE1024
}

static int __init alloc_tag_many_init(void)
{
	if (run)
		alloc_tag_many_run();
	return 0;
}

static void __exit alloc_tag_many_exit(void)
{
}

module_init(alloc_tag_many_init);
module_exit(alloc_tag_many_exit);
MODULE_DESCRIPTION("4096 allocation call sites, for compressed-mode tests");
MODULE_LICENSE("GPL");
