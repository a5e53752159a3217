// SPDX-License-Identifier: GPL-2.0

//! Tag indexes in `page->flags`: the field and the index <-> tag mapping of
//! `sysctl.vm.mem_profiling=1,compressed` (used by `mm/pgtag/`).
//!
//! Index 0 means no tag, 1 the "empty" marker, then come the kernel's tags
//! in section order and after them the module tag area's in address order.
//!
//! # Examples
//!
//! The field never loses a concurrent change to another bit of the word:
//! another CPU toggles bits on both sides of it while this one stores
//! indexes.
//!
//! ```
//! use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
//! use kernel::{alloc_tag::pgtag::PageTagLayout, bindings};
//!
//! static LAYOUT: PageTagLayout = PageTagLayout::new();
//! // A 12-bit field at bits 20..32.
//! LAYOUT.set_field(12, 20);
//! static WORD: AtomicUsize = AtomicUsize::new(0);
//! static DONE: AtomicBool = AtomicBool::new(false);
//! const OTHERS: usize = (1 << 3) | (1 << 19) | (1 << 32) | (1 << 40);
//! const TOGGLES: usize = 200_000;
//!
//! unsafe extern "C" fn toggle(_: *mut core::ffi::c_void) {
//!     for _ in 0..TOGGLES {
//!         WORD.fetch_xor(OTHERS, Relaxed);
//!     }
//!     DONE.store(true, Relaxed);
//! }
//!
//! // SAFETY: Reads a counter of online CPUs.
//! let cpus = unsafe { (*core::ptr::addr_of!(bindings::__num_online_cpus)).counter };
//! if cpus > 1 {
//!     // SAFETY: `toggle` is a valid callback that touches only statics; no
//!     // waiting, so it runs on the other CPUs while this one goes on.
//!     unsafe { bindings::smp_call_function(Some(toggle), core::ptr::null_mut(), 0) };
//! } else {
//!     // One CPU: no concurrency to test, but the same result is due.
//!     // SAFETY: As above.
//!     unsafe { toggle(core::ptr::null_mut()) };
//! }
//! let mut stores = 0usize;
//! while !DONE.load(Relaxed) || stores < 1000 {
//!     LAYOUT.store(&WORD, stores % 4096);
//!     stores += 1;
//! }
//! let last = (stores - 1) % 4096;
//! assert_eq!(LAYOUT.load(&WORD), last);
//! // Every CPU that ran `toggle` made an even number of toggles.
//! assert_eq!(WORD.load(Relaxed), last << 20);
//! ```
//!
//! Kernel tags, then module tags, with the markers before them:
//!
//! ```
//! use core::mem::size_of;
//! use kernel::{
//!     alloc_tag::pgtag::{PageTagLayout, EMPTY_INDEX, FIRST_TAG_INDEX, NO_INDEX},
//!     bindings,
//! };
//!
//! // SAFETY: An all-zero `alloc_tag` is valid (no pointers are followed).
//! let tags: [bindings::alloc_tag; 8] = unsafe { core::mem::zeroed() };
//! let (kernel, area) = (&tags[..3], &tags[4..]);
//! let layout = PageTagLayout::new();
//! layout.set_field(3, 40); // indexes 0..=7
//! layout.set_kernel_tags(kernel.as_ptr() as usize, 3);
//! layout.set_module_area(area.as_ptr() as usize, area.len() * size_of::<bindings::alloc_tag>());
//! assert_eq!((NO_INDEX, EMPTY_INDEX, FIRST_TAG_INDEX), (0, 1, 2));
//! assert_eq!(layout.max_index(), 7);
//! // The last kernel tag and the first module tag are neighbours.
//! assert_eq!(layout.index_of(&kernel[0]), Some(2));
//! assert_eq!(layout.index_of(&kernel[2]), Some(4));
//! assert_eq!(layout.index_of(&area[0]), Some(5));
//! assert_eq!(layout.index_of(&area[2]), Some(7));
//! // Past the field: no index (never recorded, so never counted).
//! assert_eq!(layout.index_of(&area[3]), None);
//! // Neither kernel nor area.
//! assert_eq!(layout.index_of(&tags[3]), None);
//! for (i, t) in [(2, &kernel[0]), (4, &kernel[2]), (5, &area[0]), (7, &area[2])] {
//!     assert_eq!(layout.tag_of(i), core::ptr::from_ref(t));
//! }
//! // The markers and the tags go in and out of a word unchanged.
//! let word = core::sync::atomic::AtomicUsize::new(usize::MAX);
//! for i in [NO_INDEX, EMPTY_INDEX, 4, 5, 7] {
//!     layout.store(&word, i);
//!     assert_eq!(layout.load(&word), i);
//!     assert_eq!(word.load(core::sync::atomic::Ordering::Relaxed) | (7 << 40), usize::MAX);
//! }
//! ```

use crate::bindings;
use core::{
    mem::size_of,
    sync::atomic::{AtomicU32, AtomicUsize, Ordering::Relaxed},
};

/// The index of "no tag".
pub const NO_INDEX: usize = 0;
/// The index of the "empty" marker (`CODETAG_EMPTY`).
pub const EMPTY_INDEX: usize = 1;
/// The index of the first kernel tag.
pub const FIRST_TAG_INDEX: usize = 2;

const TAG_SIZE: usize = size_of::<bindings::alloc_tag>();

/// Where indexes sit in a flags word and which tag each stands for.
///
/// Set up before use (the field and the kernel's tags before the first
/// index is stored, the module area before the first module tag exists)
/// and read-only afterwards; the fields are atomics only so that a layout
/// can be a static, and each access is a plain load or store.
pub struct PageTagLayout {
    mask: AtomicUsize,
    shift: AtomicU32,
    kernel_start: AtomicUsize,
    kernel_bytes: AtomicUsize,
    module_base: AtomicUsize,
    module_bytes: AtomicUsize,
}

impl Default for PageTagLayout {
    fn default() -> Self {
        Self::new()
    }
}

impl PageTagLayout {
    /// An empty layout: a one-bit field at bit 0, no tags.
    pub const fn new() -> Self {
        Self {
            mask: AtomicUsize::new(1),
            shift: AtomicU32::new(0),
            kernel_start: AtomicUsize::new(0),
            kernel_bytes: AtomicUsize::new(0),
            module_base: AtomicUsize::new(0),
            module_bytes: AtomicUsize::new(0),
        }
    }

    /// Puts the field at `bits` bits from bit `shift` up (`1 <= bits` and
    /// `bits + shift <= usize::BITS`, else the field is left alone).
    pub fn set_field(&self, bits: u32, shift: u32) {
        if bits == 0 || bits.saturating_add(shift) > usize::BITS {
            return;
        }
        self.mask
            .store((usize::MAX >> (usize::BITS - bits)) << shift, Relaxed);
        self.shift.store(shift, Relaxed);
    }

    /// The kernel's tags: `count` of them from address `start`.
    pub fn set_kernel_tags(&self, start: usize, count: usize) {
        self.kernel_start.store(start, Relaxed);
        self.kernel_bytes.store(count * TAG_SIZE, Relaxed);
    }

    /// The module tag area: `size` bytes from `base` (whole tags count).
    pub fn set_module_area(&self, base: usize, size: usize) {
        self.module_base.store(base, Relaxed);
        self.module_bytes.store(size - size % TAG_SIZE, Relaxed);
    }

    /// The largest index the field holds.
    #[inline]
    pub fn max_index(&self) -> usize {
        self.mask.load(Relaxed) >> self.shift.load(Relaxed)
    }

    /// The number of kernel tags.
    #[inline]
    pub fn kernel_tags(&self) -> usize {
        self.kernel_bytes.load(Relaxed) / TAG_SIZE
    }

    /// The start of the module tag area.
    #[inline]
    pub fn module_base(&self) -> usize {
        self.module_base.load(Relaxed)
    }

    /// The index of the module area's tag at `addr`, which may lie past the
    /// field's reach.
    #[inline]
    pub fn module_index(&self, addr: usize) -> usize {
        FIRST_TAG_INDEX
            + (self.kernel_bytes.load(Relaxed) + addr.wrapping_sub(self.module_base.load(Relaxed)))
                / TAG_SIZE
    }

    /// The index of the tag at `tag`: kernel tags by their place in the
    /// kernel's section, module tags by theirs in the area. `None` for an
    /// address in neither, or past the field's reach.
    #[inline]
    pub fn index_of(&self, tag: *const bindings::alloc_tag) -> Option<usize> {
        let addr = tag as usize;
        let kernel_bytes = self.kernel_bytes.load(Relaxed);
        let off = addr.wrapping_sub(self.kernel_start.load(Relaxed));
        let index = if off < kernel_bytes {
            FIRST_TAG_INDEX + off / TAG_SIZE
        } else {
            let off = addr.wrapping_sub(self.module_base.load(Relaxed));
            if off >= self.module_bytes.load(Relaxed) {
                return None;
            }
            FIRST_TAG_INDEX + (kernel_bytes + off) / TAG_SIZE
        };
        (index <= self.max_index()).then_some(index)
    }

    /// The address of the tag `index` stands for; `index` is at least
    /// [`FIRST_TAG_INDEX`] (the caller handles the markers).
    #[inline]
    pub fn tag_of(&self, index: usize) -> *const bindings::alloc_tag {
        let off = (index - FIRST_TAG_INDEX) * TAG_SIZE;
        let kernel_bytes = self.kernel_bytes.load(Relaxed);
        let addr = if off < kernel_bytes {
            self.kernel_start.load(Relaxed) + off
        } else {
            self.module_base.load(Relaxed) + off - kernel_bytes
        };
        addr as *const bindings::alloc_tag
    }

    /// The index stored in `word`.
    #[inline]
    pub fn load(&self, word: &AtomicUsize) -> usize {
        (word.load(Relaxed) & self.mask.load(Relaxed)) >> self.shift.load(Relaxed)
    }

    /// Stores `index` (at most [`PageTagLayout::max_index`]) in `word`,
    /// leaving every other bit as it is, also those that other CPUs change
    /// meanwhile: a compare-and-exchange loop.
    #[inline]
    pub fn store(&self, word: &AtomicUsize, index: usize) {
        let mask = self.mask.load(Relaxed);
        let bits = (index << self.shift.load(Relaxed)) & mask;
        let mut old = word.load(Relaxed);
        while let Err(now) = word.compare_exchange_weak(old, old & !mask | bits, Relaxed, Relaxed) {
            old = now;
        }
    }
}
