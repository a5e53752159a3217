/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * ioctl interface of /proc/allocinfo: allocation tags one at a time, with
 * filters, and an id of the set of tags that changes when modules come or
 * go (so that a walk can tell it must restart).
 *
 * The numbers and layouts are those of upstream's interface (magic 0xA6),
 * so that programs built against upstream's header work unchanged.
 */
#ifndef _UAPI_LINUX_ALLOC_TAG_H
#define _UAPI_LINUX_ALLOC_TAG_H

#include <linux/ioctl.h>
#include <linux/types.h>

/*
 * Names longer than this (with their NUL) are given by their last
 * ALLOCINFO_STR_SIZE - 1 characters, where file, function and module names
 * differ most; name filters compare the same suffix.
 */
#define ALLOCINFO_STR_SIZE	64

/* Changes whenever a module's tags are added or removed. */
struct allocinfo_content_id {
	__u64 id;
};

/* A call site. modname is empty for the kernel image. */
struct allocinfo_tag {
	char modname[ALLOCINFO_STR_SIZE];
	char function[ALLOCINFO_STR_SIZE];
	char filename[ALLOCINFO_STR_SIZE];
	__u64 lineno;
};

/* What a call site has allocated; accurate is 0 if counts were missed. */
struct allocinfo_counter {
	__u64 bytes;
	__u64 calls;
	__u8 accurate;
	__u8 pad[7];
} __attribute__((aligned(8)));

struct allocinfo_tag_data {
	struct allocinfo_tag tag;
	struct allocinfo_counter counter;
};

/* Bits of allocinfo_filter.mask: which criteria apply. */
enum {
	ALLOCINFO_FILTER_MODNAME,
	ALLOCINFO_FILTER_FUNCTION,
	ALLOCINFO_FILTER_FILENAME,
	ALLOCINFO_FILTER_LINENO,
	ALLOCINFO_FILTER_INACCURATE,
	ALLOCINFO_FILTER_MIN_SIZE,
	ALLOCINFO_FILTER_MAX_SIZE,
	__ALLOCINFO_FILTER_LAST = ALLOCINFO_FILTER_MAX_SIZE
};

#define ALLOCINFO_FILTER_MASK_MODNAME		(1 << ALLOCINFO_FILTER_MODNAME)
#define ALLOCINFO_FILTER_MASK_FUNCTION		(1 << ALLOCINFO_FILTER_FUNCTION)
#define ALLOCINFO_FILTER_MASK_FILENAME		(1 << ALLOCINFO_FILTER_FILENAME)
#define ALLOCINFO_FILTER_MASK_LINENO		(1 << ALLOCINFO_FILTER_LINENO)
#define ALLOCINFO_FILTER_MASK_INACCURATE	(1 << ALLOCINFO_FILTER_INACCURATE)
#define ALLOCINFO_FILTER_MASK_MIN_SIZE		(1 << ALLOCINFO_FILTER_MIN_SIZE)
#define ALLOCINFO_FILTER_MASK_MAX_SIZE		(1 << ALLOCINFO_FILTER_MAX_SIZE)
#define ALLOCINFO_FILTER_MASKS			((1 << (__ALLOCINFO_FILTER_LAST + 1)) - 1)

/*
 * A tag matches when it meets every criterion of mask: the name fields and
 * lineno of fields, inaccurate (nonzero: only inaccurate tags; zero: only
 * accurate ones), min_size <= bytes <= max_size.
 */
struct allocinfo_filter {
	__u64 mask;
	struct allocinfo_tag fields;
	__u64 min_size;
	__u64 max_size;
	__u64 inaccurate;
};

/* ALLOCINFO_IOC_GET_AT: the pos-th tag (from 0) that filter matches. */
struct allocinfo_get_at {
	__u64 pos;
	struct allocinfo_filter filter;
	struct allocinfo_tag_data data;
};

#define _ALLOCINFO_IOC_CONTENT_ID	0
#define _ALLOCINFO_IOC_GET_AT		1
#define _ALLOCINFO_IOC_GET_NEXT		2

#define ALLOCINFO_IOC_BASE		0xA6
/* The id of the current set of tags. */
#define ALLOCINFO_IOC_CONTENT_ID	_IOR(ALLOCINFO_IOC_BASE, _ALLOCINFO_IOC_CONTENT_ID, \
					     struct allocinfo_content_id)
/* Positions the file's walk on a tag, with a filter, and returns it. */
#define ALLOCINFO_IOC_GET_AT		_IOWR(ALLOCINFO_IOC_BASE, _ALLOCINFO_IOC_GET_AT, \
					      struct allocinfo_get_at)
/* The next tag of the walk that the filter of the last GET_AT matches. */
#define ALLOCINFO_IOC_GET_NEXT		_IOR(ALLOCINFO_IOC_BASE, _ALLOCINFO_IOC_GET_NEXT, \
					     struct allocinfo_tag_data)

#endif /* _UAPI_LINUX_ALLOC_TAG_H */
