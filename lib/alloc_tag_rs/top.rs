// SPDX-License-Identifier: GPL-2.0

//! Selection of the tags that account for the most memory.
//!
//! Mirrors the selection in `alloc_tag_top_users()` in
//! `srctree/lib/alloc_tag.c`: every tag competes, including those with zero or
//! negative bytes, the result is sorted by bytes from largest to smallest, and
//! among equal byte counts the tag offered first ranks first.

/// An item ranked by the number of bytes it accounts for.
pub trait Ranked {
    /// Returns the number of bytes the item accounts for.
    fn bytes(&self) -> i64;
}

/// The `N` largest items offered so far, kept in a caller-provided slice.
///
/// `N` is the length of the slice. Offering is `O(N)`, which suits the small
/// `N` of `show_mem()` (10).
///
/// # Invariants
///
/// `filled <= slots.len()`, and `slots[..filled]` holds the largest items
/// offered so far, sorted by [`Ranked::bytes`] from largest to smallest, items
/// with equal bytes in the order they were offered.
pub struct TopN<'a, T> {
    slots: &'a mut [T],
    filled: usize,
}

impl<'a, T: Ranked> TopN<'a, T> {
    /// Creates an empty selection that keeps at most `slots.len()` items.
    ///
    /// The initial contents of `slots` are never read, only overwritten.
    pub fn new(slots: &'a mut [T]) -> Self {
        // INVARIANT: No slot is filled yet.
        Self { slots, filled: 0 }
    }

    /// Offers `item`, which is kept if it ranks among the `N` largest so far.
    ///
    /// When the selection is full, the smallest item (the last offered among
    /// equals) makes room for `item` if `item` has strictly more bytes.
    pub fn offer(&mut self, item: T) {
        let bytes = item.bytes();
        let at = self
            .as_slice()
            .iter()
            .position(|slot| bytes > slot.bytes())
            .unwrap_or(self.filled);
        if at >= self.slots.len() {
            return;
        }
        if self.filled < self.slots.len() {
            self.filled += 1;
        }
        // Move `slots[at..filled - 1]` one place down, dropping the last item
        // when the selection was already full, and put `item` in the gap.
        // INVARIANT: `at < filled <= slots.len()`, and `item` is no larger
        // than anything before `at` and larger than everything after it.
        if let Some(tail) = self.slots.get_mut(at..self.filled) {
            tail.rotate_right(1);
            if let Some(slot) = tail.first_mut() {
                *slot = item;
            }
        }
    }

    /// Returns the items kept, largest first.
    pub fn as_slice(&self) -> &[T] {
        self.slots.get(..self.filled).unwrap_or_default()
    }

    /// Returns the number of items kept.
    pub fn len(&self) -> usize {
        self.filled
    }

    /// Returns whether no item was kept.
    pub fn is_empty(&self) -> bool {
        self.filled == 0
    }
}
