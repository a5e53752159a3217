// SPDX-License-Identifier: GPL-2.0

#include <linux/cpumask.h>
#include <linux/jump_label.h>
#include <linux/percpu.h>

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
