// SPDX-License-Identifier: GPL-2.0
/*
 * alloc_tag_align64: alloc_tag_align with its one tag aligned to 64 bytes
 * (see alloc_tag_align.c).
 */
#define ALIGN_TAG_ALIGNMENT	64
#include "alloc_tag_align.c"
