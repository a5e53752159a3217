//! Tests of the top-N selection against `alloc_tag_top_users()` semantics.

use alloc_tag_logic::top::{Ranked, TopN};
use proptest::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Item {
    id: usize,
    bytes: i64,
}

impl Ranked for Item {
    fn bytes(&self) -> i64 {
        self.bytes
    }
}

const UNUSED: Item = Item {
    id: usize::MAX,
    bytes: i64::MAX,
};

fn items(bytes: &[i64]) -> Vec<Item> {
    bytes
        .iter()
        .enumerate()
        .map(|(id, &bytes)| Item { id, bytes })
        .collect()
}

/// Runs the selection with `count` slots and returns the ids kept.
fn top(count: usize, bytes: &[i64]) -> Vec<usize> {
    let mut slots = vec![UNUSED; count];
    let mut top = TopN::new(&mut slots);
    for item in items(bytes) {
        top.offer(item);
    }
    assert_eq!(top.len(), top.as_slice().len());
    assert_eq!(top.is_empty(), top.as_slice().is_empty());
    top.as_slice().iter().map(|i| i.id).collect()
}

/// Sorts by bytes, largest first, keeping the offer order among equals.
fn reference(count: usize, bytes: &[i64]) -> Vec<usize> {
    let mut all = items(bytes);
    all.sort_by_key(|i| std::cmp::Reverse(i.bytes));
    all.truncate(count);
    all.iter().map(|i| i.id).collect()
}

#[test]
fn keeps_the_largest_sorted() {
    assert_eq!(top(3, &[10, 50, 20, 40, 30]), [1, 3, 4]);
}

#[test]
fn fewer_items_than_slots() {
    assert_eq!(top(10, &[5, 7, 6]), [1, 2, 0]);
    assert_eq!(top(10, &[]), Vec::<usize>::new());
}

#[test]
fn no_slots() {
    assert_eq!(top(0, &[1, 2, 3]), Vec::<usize>::new());
}

#[test]
fn zero_and_negative_bytes_compete() {
    // alloc_tag_top_users() skips nothing: idle and negative tags rank last.
    assert_eq!(top(4, &[0, -5, 0, 3]), [3, 0, 2, 1]);
    assert_eq!(top(2, &[-1, -2, -3]), [0, 1]);
}

#[test]
fn first_offered_wins_ties() {
    assert_eq!(top(2, &[5, 5, 5]), [0, 1]);
    assert_eq!(top(4, &[1, 5, 1, 5]), [1, 3, 0, 2]);
}

#[test]
fn full_selection_takes_only_strictly_larger() {
    // Equal to the smallest kept: dropped.
    assert_eq!(top(2, &[9, 4, 4]), [0, 1]);
    // Larger than the smallest: the last-offered smallest makes room.
    assert_eq!(top(3, &[9, 4, 4, 5]), [0, 3, 1]);
}

#[test]
fn show_mem_sized() {
    let bytes: Vec<i64> = (0..25).map(|i| (i * 7919) % 101).collect();
    assert_eq!(top(10, &bytes), reference(10, &bytes));
}

#[test]
fn items_that_own_memory() {
    // Evicted and overwritten items are dropped, not leaked or read.
    struct Named(String, i64);
    impl Ranked for Named {
        fn bytes(&self) -> i64 {
            self.1
        }
    }
    let mut slots: Vec<Named> = (0..2).map(|_| Named(String::new(), 0)).collect();
    let mut top = TopN::new(&mut slots);
    for (name, bytes) in [("a", 1), ("b", 3), ("c", 2)] {
        top.offer(Named(name.to_string(), bytes));
    }
    let names: Vec<&str> = top.as_slice().iter().map(|n| n.0.as_str()).collect();
    assert_eq!(names, ["b", "c"]);
}

proptest! {
    #[test]
    fn matches_stable_sort_with_ties(
        count in 0usize..12,
        bytes in prop::collection::vec(-3i64..4, 0..40),
    ) {
        prop_assert_eq!(top(count, &bytes), reference(count, &bytes));
    }

    #[test]
    fn matches_stable_sort(
        count in 0usize..12,
        bytes in prop::collection::vec(any::<i64>(), 0..40),
    ) {
        prop_assert_eq!(top(count, &bytes), reference(count, &bytes));
    }
}
