// SPDX-License-Identifier: GPL-2.0
/*
 * alloc_tag_bench: times the allocation paths that memory allocation
 * profiling hooks into, for scripts/bench.
 *
 * Loading it does nothing unless run=1 is given. A run times three loops on
 * the first online CPU (a bound worker: the loops never migrate, and every
 * run uses that CPU's page lists and slabs), each after a warm-up of a
 * tenth of its length:
 *   page0    alloc_page(GFP_KERNEL) + __free_page()
 *   page3    alloc_pages(GFP_KERNEL, 3) + __free_pages(page, 3)
 *   kmalloc  kmalloc(size, GFP_KERNEL) + kfree(), the size cycling through
 *            16 sizes from 8 to 233 bytes (8, 23, 38, ..., 233)
 * and logs one line, in nanoseconds per operation (two decimals):
 *   alloc_tag_bench: iterations=100000 cpu=0 page0=<ns> page3=<ns> kmalloc=<ns>
 * Under QEMU's "-icount shift=0,sleep=off" one nanosecond of guest time is
 * one guest instruction: the figures are instructions per operation.
 *
 * /sys/module/alloc_tag_bench/parameters/
 *   iterations  (rw) operations per timed loop (default 100000)
 *   run         (rw) write 1 (or load with run=1): run the loops once and
 *               log the line; a failed allocation fails the write (or the
 *               load) with ENOMEM, iterations out of 1..100000000 with
 *               EINVAL. Reads how many runs completed.
 */
#include <linux/cpu.h>
#include <linux/gfp.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/sysfs.h>
#include <linux/workqueue.h>

#define BENCH_PAGE_ORDER	3
#define BENCH_SIZES		16
#define BENCH_SIZE_MIN		8
#define BENCH_SIZE_STEP		15	/* 8 + 15 * 15 = 233 */
#define BENCH_MAX_ITERATIONS	100000000

static unsigned int iterations = 100000;
module_param(iterations, uint, 0644);
MODULE_PARM_DESC(iterations, "operations per timed loop");

static DEFINE_MUTEX(bench_lock);
static unsigned int runs;
/* Set once init has run: a run=1 given at load waits for init. */
static bool bench_ready;
static bool run_at_init;

/*
 * Each loop does n operations and returns the nanoseconds they took, or
 * -ENOMEM.
 */
static s64 bench_pages(unsigned int order, unsigned int n)
{
	struct page *page;
	unsigned int i;
	u64 start;

	start = ktime_get_ns();
	for (i = 0; i < n; i++) {
		page = alloc_pages(GFP_KERNEL, order);
		if (!page)
			return -ENOMEM;
		__free_pages(page, order);
	}
	return ktime_get_ns() - start;
}

static s64 bench_kmalloc(unsigned int n)
{
	unsigned int i;
	void *obj;
	u64 start;

	start = ktime_get_ns();
	for (i = 0; i < n; i++) {
		obj = kmalloc(BENCH_SIZE_MIN + BENCH_SIZE_STEP * (i % BENCH_SIZES),
			      GFP_KERNEL);
		if (!obj)
			return -ENOMEM;
		kfree(obj);
	}
	return ktime_get_ns() - start;
}

/* Which loop: the page order, or -1 for kmalloc. */
static s64 bench_one(int order, unsigned int n)
{
	return order < 0 ? bench_kmalloc(n) : bench_pages(order, n);
}

/* Hundredths of a nanosecond per operation, rounded. */
static u64 bench_per_op(s64 ns, unsigned int n)
{
	return div_u64((u64)ns * 100 + n / 2, n);
}

/* What the loops did: operations per loop in, per_op[] out. */
struct bench_result {
	unsigned int n;
	u64 per_op[3];
};

/* Runs on the CPU bench_run() picked (work_on_cpu()). */
static long bench_loops(void *arg)
{
	static const int orders[] = { 0, BENCH_PAGE_ORDER, -1 };
	struct bench_result *res = arg;
	s64 ns;
	int i;

	BUILD_BUG_ON(ARRAY_SIZE(orders) != ARRAY_SIZE(res->per_op));
	for (i = 0; i < ARRAY_SIZE(orders); i++) {
		ns = bench_one(orders[i], max(res->n / 10, 1U));
		if (ns >= 0)
			ns = bench_one(orders[i], res->n);
		if (ns < 0)
			return ns;
		res->per_op[i] = bench_per_op(ns, res->n);
	}
	return 0;
}

static int bench_run(void)
{
	struct bench_result res = { .n = iterations };
	u64 *p = res.per_op;
	long ret;
	int cpu;

	if (res.n == 0 || res.n > BENCH_MAX_ITERATIONS)
		return -EINVAL;
	/* work_on_cpu_safe() is gone from 7.x (scripts/bench --upstream) */
	cpus_read_lock();
	cpu = cpumask_first(cpu_online_mask);
	ret = work_on_cpu(cpu, bench_loops, &res);
	cpus_read_unlock();
	if (ret) {
		pr_err("alloc_tag_bench: run failed (%ld)\n", ret);
		return ret;
	}
	pr_info("alloc_tag_bench: iterations=%u cpu=%d page0=%llu.%02llu page%d=%llu.%02llu kmalloc=%llu.%02llu\n",
		res.n, cpu, p[0] / 100, p[0] % 100, BENCH_PAGE_ORDER,
		p[1] / 100, p[1] % 100, p[2] / 100, p[2] % 100);
	runs++;
	return 0;
}

static int run_set(const char *val, const struct kernel_param *kp)
{
	bool want;
	int ret = kstrtobool(val, &want);

	if (ret || !want)
		return ret;
	mutex_lock(&bench_lock);
	if (bench_ready)
		ret = bench_run();
	else
		run_at_init = true;
	mutex_unlock(&bench_lock);
	return ret;
}

static int run_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%u\n", runs);
}

static const struct kernel_param_ops run_ops = {
	.set = run_set,
	.get = run_get,
};
module_param_cb(run, &run_ops, NULL, 0644);
MODULE_PARM_DESC(run, "1: time the loops and log the result");

static int __init alloc_tag_bench_init(void)
{
	int ret = 0;

	mutex_lock(&bench_lock);
	bench_ready = true;
	if (run_at_init)
		ret = bench_run();
	mutex_unlock(&bench_lock);
	return ret;
}

static void __exit alloc_tag_bench_exit(void)
{
}

module_init(alloc_tag_bench_init);
module_exit(alloc_tag_bench_exit);
MODULE_DESCRIPTION("Instructions per page and kmalloc alloc+free, for scripts/bench");
MODULE_LICENSE("GPL");
