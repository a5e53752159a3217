// SPDX-License-Identifier: GPL-2.0
/*
 * harness_warn: raises a WARN() on request, so that the harness checks of
 * scripts/test can plant a warning while a kselftest runs and see that it
 * is reported. Loading it does nothing else.
 *
 * /sys/module/harness_warn/parameters/warn  (wo) write anything: WARN()
 */
#include <linux/bug.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

static int warn_set(const char *val, const struct kernel_param *kp)
{
	WARN(1, "harness_warn: a warning planted by the harness checks\n");
	return 0;
}

static const struct kernel_param_ops warn_ops = {
	.set = warn_set,
};
module_param_cb(warn, &warn_ops, NULL, 0200);
MODULE_PARM_DESC(warn, "write anything: raise a WARN()");

MODULE_DESCRIPTION("A WARN() on request, for the test harness's own checks");
MODULE_LICENSE("GPL");
