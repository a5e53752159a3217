// SPDX-License-Identifier: GPL-2.0
/*
 * alloc_tag_align: one allocation tag, alone in an "alloc_tags" section
 * aligned to 2 * PAGE_SIZE. That is more than the module tag area can
 * place a module's tags at, so a kernel with that area refuses to load the
 * module (EINVAL); C 6.12 loads it. The module allocates nothing.
 *
 * alloc_tag_align64.c builds the same module with the section aligned to
 * 64 bytes, which the area honours: its one tag needs more room than the
 * 40 bytes of a tag where the free room does not start at a multiple of 64.
 */
#include <linux/alloc_tag.h>
#include <linux/codetag.h>
#include <linux/module.h>
#include <linux/percpu.h>

#ifndef ALIGN_TAG_ALIGNMENT
#define ALIGN_TAG_ALIGNMENT	(2 * PAGE_SIZE)
#endif

static DEFINE_PER_CPU(struct alloc_tag_counters, align_tag_counters);

static int __init alloc_tag_align_init(void)
{
	/*
	 * Laid out like DEFINE_ALLOC_TAG() lays out a tag, with a larger
	 * alignment. It sits in a function because CODE_TAG_INIT names it
	 * with __func__.
	 */
	static struct alloc_tag align_tag __used
		__aligned(ALIGN_TAG_ALIGNMENT) __section("alloc_tags") = {
		.ct = CODE_TAG_INIT,
		.counters = &align_tag_counters,
	};

	return 0;
}

static void __exit alloc_tag_align_exit(void)
{
}

module_init(alloc_tag_align_init);
module_exit(alloc_tag_align_exit);
MODULE_DESCRIPTION("An alloc_tags section with a large alignment");
MODULE_LICENSE("GPL");
