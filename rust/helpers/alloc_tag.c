// SPDX-License-Identifier: GPL-2.0

#include <linux/cpumask.h>
#include <linux/jump_label.h>
#include <linux/kasan.h>
#include <linux/kmemleak.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/percpu.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

/*
 * Per-CPU pointers and CPU masks for the allocation profiling code in Rust:
 * per_cpu_ptr() is a macro and cpumask_next() an inline function.
 */
void *rust_helper_per_cpu_ptr(void __percpu *ptr, unsigned int cpu)
{
	return per_cpu_ptr(ptr, cpu);
}

unsigned int rust_helper_cpumask_next(int n, const struct cpumask *srcp)
{
	return cpumask_next(n, srcp);
}

#ifndef CONFIG_JUMP_LABEL
/* Without jump labels these are inline functions. */
void rust_helper_static_key_enable(struct static_key *key)
{
	static_key_enable(key);
}

void rust_helper_static_key_disable(struct static_key *key)
{
	static_key_disable(key);
}
#endif

/*
 * The module tag area is a sparse vmalloc area: with KASAN_VMALLOC its
 * shadow starts poisoned and the pages mapped in must be unpoisoned. Both
 * are inline functions (empty without KASAN_VMALLOC).
 */
void rust_helper_kasan_unpoison_vmalloc(const void *start, unsigned long size)
{
	kasan_unpoison_vmalloc(start, size, KASAN_VMALLOC_PROT_NORMAL);
}

void rust_helper_kasan_poison_vmalloc(const void *start, unsigned long size)
{
	kasan_poison_vmalloc(start, size);
}

/* Counting from Rust where it has no per-CPU add of its own (not x86-64). */
void rust_helper_alloc_tag_this_cpu_add(u64 __percpu *p, u64 v)
{
	this_cpu_add(*p, v);
}

/* The n-th page of a folio: a macro (pfn arithmetic without VMEMMAP). */
struct page *rust_helper_folio_page(struct folio *folio, unsigned long n)
{
	return folio_page(folio, n);
}

/*
 * page->flags for kernel::alloc_tag::pgtag::FlagsWord where it has no
 * inline assembly of its own (not x86-64): the word C also changes with
 * bit operations of any width.
 */
unsigned long rust_helper_pgtag_flags_read(unsigned long *word)
{
	return READ_ONCE(*word);
}

void rust_helper_pgtag_flags_xor(unsigned long *word, unsigned long mask)
{
	atomic_long_xor(mask, (atomic_long_t *)word);
}

void rust_helper_pgtag_flags_andnot(unsigned long *word, unsigned long mask)
{
	atomic_long_andnot(mask, (atomic_long_t *)word);
}

/*
 * The module tag area's pages come from alloc_page(), which kmemleak does
 * not track, yet the tags in them hold the only pointers to their per-CPU
 * counters: they are registered as objects that are scanned and never
 * reported. Inline (empty) without DEBUG_KMEMLEAK.
 */
void rust_helper_kmemleak_alloc(const void *ptr, size_t size, int min_count,
				gfp_t gfp)
{
	kmemleak_alloc(ptr, size, min_count, gfp);
}

void rust_helper_kmemleak_free(const void *ptr)
{
	kmemleak_free(ptr);
}

#ifdef CONFIG_MEM_ALLOC_PROFILING
/*
 * The kernel crate's allocators with the allocation tag of the Rust call
 * site (rust/kernel/alloc_tag/site.rs) in place of the helpers' own. The
 * caller has seen profiling enabled: the tag is set without testing again.
 */
void * __must_check __realloc_size(2)
rust_helper_krealloc_tagged(const void *p, size_t size, gfp_t flags,
			    struct alloc_tag *tag)
{
	return __alloc_hooks_tag_set(tag, krealloc_noprof(p, size, flags));
}

void * __must_check __realloc_size(2)
rust_helper_vrealloc_tagged(const void *p, size_t size, gfp_t flags,
			    struct alloc_tag *tag)
{
	return __alloc_hooks_tag_set(tag, vrealloc_noprof(p, size, flags));
}

void * __must_check __realloc_size(2)
rust_helper_kvrealloc_tagged(const void *p, size_t size, gfp_t flags,
			     struct alloc_tag *tag)
{
	return __alloc_hooks_tag_set(tag, kvrealloc_noprof(p, size, flags));
}

/*
 * The module whose memory holds @addr, a Rust call site of a module, which
 * is running the allocation, so it stays while this is read: its name, and
 * the bounds of its alloc_tags section in @start and @stop. NULL if no
 * module holds @addr. __module_address() is to be called with preemption
 * off.
 */
const char *rust_helper_alloc_tag_module_tags(unsigned long addr,
					      struct alloc_tag **start,
					      struct alloc_tag **stop)
{
	const char *name = NULL;
#ifdef CONFIG_MODULES
	struct module *mod;

	preempt_disable();
	mod = __module_address(addr);
	if (mod) {
		name = mod->name;
		*start = (struct alloc_tag *)
			find_kallsyms_symbol_value(mod, "__start_alloc_tags");
		*stop = (struct alloc_tag *)
			find_kallsyms_symbol_value(mod, "__stop_alloc_tags");
	}
	preempt_enable();
#endif
	return name;
}

/* Whether @addr is in @mod's memory: an inline function. */
bool rust_helper_within_module(unsigned long addr, const struct module *mod)
{
#ifdef CONFIG_MODULES
	return within_module(addr, mod);
#else
	return false;
#endif
}
#endif
