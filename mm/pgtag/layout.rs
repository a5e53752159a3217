// SPDX-License-Identifier: GPL-2.0

//! Tag references kept in `page->flags` (`sysctl.vm.mem_profiling=1,compressed`):
//! the arithmetic, free of kernel types.
//!
//! `page->flags` holds the page flags from bit 0 up and the section, node,
//! zone, last-CPUPID, KASAN-tag and LRU-generation fields from the top down.
//! Between them lie `NR_UNUSED_PAGEFLAG_BITS` free bits; a tag reference is
//! stored there as an index:
//!
//! - 0: no tag (the page is not accounted);
//! - 1: "empty" (`CODETAG_EMPTY`, kernels with
//!   `MEM_ALLOC_PROFILING_DEBUG` only): not accounted, and freeing the page
//!   must not warn (reserved pages handed to the allocator at boot);
//! - 2 ..: the kernel's tags in section order, then the tags of the module
//!   tag area in address order, whether or not a module uses them.
//!
//! `mm/pgtag/pgtag.rs` keeps the field and the map in the kernel; this file
//! is also compiled on the host (tests/host).

/// The first index of a tag; 0 and 1 are the markers.
pub const FIRST_TAG_INDEX: usize = 2;

/// What an index in `page->flags` refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagRef {
    /// No tag: index 0.
    None,
    /// The "empty" debug marker: index 1.
    Empty,
    /// The kernel tag with this position in the kernel's tag section.
    Kernel(usize),
    /// The tag at this position (in tags) from the start of the module area.
    Module(usize),
}

/// Maps indexes to tags and back, given how many tags the kernel has and
/// how many the module area can hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexMap {
    /// Tags in the kernel image.
    pub kernel_tags: usize,
    /// Tags the module area can hold.
    pub module_tags: usize,
}

impl IndexMap {
    /// The number of indexes in use, markers included; `None` on overflow.
    pub fn indexes(&self) -> Option<usize> {
        FIRST_TAG_INDEX
            .checked_add(self.kernel_tags)?
            .checked_add(self.module_tags)
    }

    /// The index of a reference; `None` for a tag past the map's end.
    pub fn index(&self, r: TagRef) -> Option<usize> {
        match r {
            TagRef::None => Some(0),
            TagRef::Empty => Some(1),
            TagRef::Kernel(i) if i < self.kernel_tags => Some(FIRST_TAG_INDEX + i),
            TagRef::Module(i) if i < self.module_tags => {
                Some(FIRST_TAG_INDEX + self.kernel_tags + i)
            }
            _ => None,
        }
    }

    /// The reference an index stands for; `None` past the map's end.
    pub fn tag(&self, index: usize) -> Option<TagRef> {
        match index {
            0 => Some(TagRef::None),
            1 => Some(TagRef::Empty),
            i if i - FIRST_TAG_INDEX < self.kernel_tags => {
                Some(TagRef::Kernel(i - FIRST_TAG_INDEX))
            }
            i => {
                let m = i - FIRST_TAG_INDEX - self.kernel_tags;
                (m < self.module_tags).then_some(TagRef::Module(m))
            }
        }
    }
}

/// Bits an index needs to tell `indexes` values apart (at least 1).
pub fn bits_for(indexes: usize) -> u32 {
    (usize::BITS - indexes.saturating_sub(1).leading_zeros()).max(1)
}

/// Where in `page->flags` the index lives: `bits` bits from `shift` up.
///
/// # Invariants
///
/// `1 <= bits` and `shift + bits <= 64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlagsField {
    bits: u32,
    shift: u32,
}

/// Why tag references cannot go in `page->flags`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoRoom {
    /// Bits the index needs.
    pub needed: u32,
    /// Free bits there are.
    pub free: u32,
}

impl FlagsField {
    /// Places a field of `bits` bits at the top of the free gap, right below
    /// the fields that fill `page->flags` from the top; `nr_pageflags` flags
    /// fill it from the bottom and `non_flag_bits` are the fields'.
    pub fn place(
        bits: u32,
        long_bits: u32,
        nr_pageflags: u32,
        non_flag_bits: u32,
    ) -> Result<FlagsField, NoRoom> {
        let long_bits = long_bits.min(64);
        let free = long_bits.saturating_sub(nr_pageflags.saturating_add(non_flag_bits));
        if bits == 0 || bits > free {
            return Err(NoRoom { needed: bits, free });
        }
        // INVARIANT: `bits <= free`, so the field ends at
        // `long_bits - non_flag_bits <= 64`.
        Ok(FlagsField {
            bits,
            shift: long_bits - non_flag_bits - bits,
        })
    }

    /// Width of the field.
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// Position of its lowest bit.
    pub fn shift(&self) -> u32 {
        self.shift
    }

    /// The field's bits in a flags word.
    pub fn mask(&self) -> u64 {
        (u64::MAX >> (64 - self.bits)) << self.shift
    }

    /// The index stored in `flags`.
    pub fn get(&self, flags: u64) -> usize {
        ((flags & self.mask()) >> self.shift) as usize
    }

    /// `flags` with the field set to `index` (which must fit) and every
    /// other bit as it was.
    pub fn set(&self, flags: u64, index: usize) -> u64 {
        (flags & !self.mask()) | (((index as u64) << self.shift) & self.mask())
    }
}
