//! Tag indexes in `page->flags`: index mapping and bit layout.

use alloc_tag_logic::pgtag::{bits_for, FlagsField, IndexMap, NoRoom, TagRef, FIRST_TAG_INDEX};
use proptest::prelude::*;

#[test]
fn markers_and_the_kernel_module_boundary() {
    let map = IndexMap {
        kernel_tags: 3,
        module_tags: 2,
    };
    let want = [
        (0, TagRef::None),
        (1, TagRef::Empty),
        (2, TagRef::Kernel(0)),
        (4, TagRef::Kernel(2)),
        (5, TagRef::Module(0)),
        (6, TagRef::Module(1)),
    ];
    for (index, r) in want {
        assert_eq!(map.tag(index), Some(r), "index {index}");
        assert_eq!(map.index(r), Some(index), "{r:?}");
    }
    assert_eq!(map.tag(7), None);
    assert_eq!(map.index(TagRef::Kernel(3)), None);
    assert_eq!(map.index(TagRef::Module(2)), None);
    assert_eq!(map.indexes(), Some(7));
    assert_eq!(FIRST_TAG_INDEX, 2);
}

#[test]
fn no_module_area() {
    let map = IndexMap {
        kernel_tags: 1,
        module_tags: 0,
    };
    assert_eq!(map.tag(2), Some(TagRef::Kernel(0)));
    assert_eq!(map.tag(3), None);
    assert_eq!(map.index(TagRef::Module(0)), None);
}

#[test]
fn bits_for_counts() {
    for (indexes, bits) in [
        (0, 1),
        (1, 1),
        (2, 1),
        (3, 2),
        (4, 2),
        (5, 3),
        (1 << 16, 16),
        ((1 << 16) + 1, 17),
    ] {
        assert_eq!(bits_for(indexes), bits, "{indexes} indexes");
    }
    assert_eq!(bits_for(usize::MAX), usize::BITS);
}

#[test]
fn placed_at_the_top_of_the_gap() {
    // 64-bit flags, 24 page flags, 20 bits of fields at the top: 20 free
    // bits, [24, 44); a 16-bit index sits right below the fields.
    let f = FlagsField::place(16, 64, 24, 20).expect("fits");
    assert_eq!((f.bits(), f.shift()), (16, 28));
    assert_eq!(f.mask(), 0xffff << 28);
    assert_eq!(FlagsField::place(20, 64, 24, 20).map(|f| f.shift()), Ok(24));
    assert_eq!(
        FlagsField::place(21, 64, 24, 20),
        Err(NoRoom {
            needed: 21,
            free: 20
        })
    );
    assert_eq!(
        FlagsField::place(0, 64, 24, 20),
        Err(NoRoom {
            needed: 0,
            free: 20
        })
    );
    // Fields and flags that overflow the word leave no room, without panicking.
    assert_eq!(
        FlagsField::place(1, 64, 40, 40),
        Err(NoRoom { needed: 1, free: 0 })
    );
    assert_eq!(
        FlagsField::place(1, 32, u32::MAX, 1),
        Err(NoRoom { needed: 1, free: 0 })
    );
}

proptest! {
    #[test]
    fn index_round_trip(kernel_tags in 0usize..100_000, module_tags in 0usize..100_000, index in 0usize..200_010) {
        let map = IndexMap { kernel_tags, module_tags };
        match map.tag(index) {
            Some(r) => prop_assert_eq!(map.index(r), Some(index)),
            None => prop_assert!(index >= FIRST_TAG_INDEX + kernel_tags + module_tags),
        }
    }

    #[test]
    fn every_index_fits_its_bits(indexes in 1usize..(1 << 40)) {
        let bits = bits_for(indexes);
        prop_assert!((indexes - 1) >> bits == 0);
        prop_assert!(bits == 1 || (indexes - 1) >> (bits - 1) == 1);
    }

    /// Setting the index changes only its field, and reads back.
    #[test]
    fn set_keeps_other_bits(
        nr_pageflags in 0u32..40,
        non_flag_bits in 0u32..40,
        bits in 1u32..64,
        flags: u64,
        index: usize,
    ) {
        match FlagsField::place(bits, 64, nr_pageflags, non_flag_bits) {
            Ok(f) => {
                prop_assert!(f.shift() >= nr_pageflags);
                prop_assert!(f.shift() + f.bits() + non_flag_bits == 64);
                let index = index & (usize::MAX >> (usize::BITS - bits));
                let set = f.set(flags, index);
                prop_assert_eq!(f.get(set), index);
                prop_assert_eq!(set & !f.mask(), flags & !f.mask());
                prop_assert_eq!(f.set(set, f.get(flags)), flags);
            }
            Err(e) => prop_assert!(e.needed > e.free && e.free == 64u32.saturating_sub(nr_pageflags + non_flag_bits)),
        }
    }
}
