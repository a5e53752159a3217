/* SPDX-License-Identifier: GPL-2.0 */
/*
 * alloc_tag_keeper's exports: each takes over an allocation, which the
 * keeper frees when told to (its parameter "release") or when it unloads.
 * A module that must load without the keeper looks them up with
 * symbol_get() and declares them itself.
 */
#ifndef ALLOC_TAG_KEEPER_H
#define ALLOC_TAG_KEEPER_H

struct page;

/* Takes over a block of 2^@order pages from alloc_pages(). */
void alloc_tag_keeper_hold_pages(struct page *page, unsigned int order);
/* Takes over an object from kmalloc(). */
void alloc_tag_keeper_hold_obj(void *obj);

#endif /* ALLOC_TAG_KEEPER_H */
