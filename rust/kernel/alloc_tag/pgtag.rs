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
//! another CPU toggles bits on both sides of it, each with a locked
//! byte-wide `xor` as C's `change_bit()` does on x86, while this one stores
//! indexes.
//!
//! ```
//! use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};
//! use kernel::{alloc_tag::pgtag::{FlagsWord, PageTagLayout}, bindings};
//!
//! static LAYOUT: PageTagLayout = PageTagLayout::new();
//! // A 12-bit field at bits 20..32.
//! // SAFETY: No index of this layout is in use yet.
//! unsafe { LAYOUT.set_field(12, 20) };
//! static WORD: FlagsWord = FlagsWord::new(0);
//! // How many CPUs finished toggling.
//! static DONE: AtomicUsize = AtomicUsize::new(0);
//! // Bits 3, 19, 32 and 40: (byte, mask) pairs of the word.
//! const OTHERS: [(usize, u8); 4] = [(0, 1 << 3), (2, 1 << 3), (4, 1), (5, 1)];
//! const TOGGLES: usize = 200_000;
//!
//! extern "C" fn toggle(_: *mut core::ffi::c_void) {
//!     let word = core::ptr::from_ref(&WORD).cast::<u8>();
//!     for _ in 0..TOGGLES {
//!         for (byte, mask) in OTHERS {
//!             #[cfg(CONFIG_X86_64)]
//!             // SAFETY: `byte` is within the word; a locked `xor` on one
//!             // byte of it is atomic, as for C.
//!             unsafe {
//!                 core::arch::asm!(
//!                     "lock xor byte ptr [{p}], {m}",
//!                     p = in(reg) word.wrapping_add(byte),
//!                     m = in(reg_byte) mask,
//!                     options(nostack)
//!                 )
//!             };
//!             #[cfg(not(CONFIG_X86_64))]
//!             let _ = (word, byte, mask);
//!         }
//!     }
//!     DONE.fetch_add(1, Relaxed);
//! }
//!
//! // SAFETY: Reads a counter of online CPUs.
//! let cpus = unsafe { (*core::ptr::addr_of!(bindings::__num_online_cpus)).counter };
//! let togglers = if cpus > 1 {
//!     let f: unsafe extern "C" fn(*mut core::ffi::c_void) = toggle;
//!     // SAFETY: `f` is a valid callback that touches only statics; no
//!     // waiting, so it runs on every other CPU while this one goes on.
//!     unsafe { bindings::smp_call_function(Some(f), core::ptr::null_mut(), 0) };
//!     cpus as usize - 1
//! } else {
//!     // One CPU: no concurrency to test, but the same result is due.
//!     toggle(core::ptr::null_mut());
//!     1
//! };
//! let mut stores = 0usize;
//! // Until every CPU that toggles is done.
//! while DONE.load(Relaxed) < togglers || stores < 1000 {
//!     LAYOUT.store(&WORD, stores % 4096);
//!     stores += 1;
//! }
//! let last = (stores - 1) % 4096;
//! assert_eq!(LAYOUT.load(&WORD), last);
//! // Every CPU that ran `toggle` made an even number of toggles.
//! assert_eq!(WORD.load(), last << 20);
//! ```
//!
//! Kernel tags, then module tags, with the markers before them:
//!
//! ```
//! use kernel::{
//!     alloc_tag::pgtag::{FlagsWord, PageTagLayout, EMPTY_INDEX, FIRST_TAG_INDEX, NO_INDEX},
//!     bindings,
//! };
//!
//! // SAFETY: An all-zero `alloc_tag` is valid (no pointers are followed).
//! let tags: [bindings::alloc_tag; 8] = unsafe { core::mem::zeroed() };
//! let (kernel, area) = (&tags[..3], &tags[4..]);
//! let layout = PageTagLayout::new();
//! // SAFETY: No index of this layout is in use yet.
//! unsafe {
//!     layout.set_field(3, 40); // indexes 0..=7
//!     layout.set_kernel_tags(kernel.as_ptr() as usize, 3);
//!     layout.set_module_area(area.as_ptr() as usize, core::mem::size_of_val(area));
//! }
//! assert_eq!((NO_INDEX, EMPTY_INDEX, FIRST_TAG_INDEX), (0, 1, 2));
//! assert_eq!((layout.max_index(), layout.kernel_tags()), (7, 3));
//! // The last kernel tag and the first module tag are neighbours.
//! assert_eq!(layout.index_of(&kernel[0]), Some(2));
//! assert_eq!(layout.index_of(&kernel[2]), Some(4));
//! assert_eq!(layout.index_of(&area[0]), Some(5));
//! assert_eq!(layout.index_of(&area[2]), Some(7));
//! // Past the field: no index (never recorded, so never counted).
//! assert_eq!(layout.index_of(&area[3]), None);
//! assert_eq!(layout.module_index(area[3..].as_ptr() as usize), 8);
//! // Neither kernel nor area.
//! assert_eq!(layout.index_of(&tags[3]), None);
//! for (i, t) in [(2, &kernel[0]), (4, &kernel[2]), (5, &area[0]), (7, &area[2])] {
//!     assert_eq!(layout.tag_of(i), Some(core::ptr::from_ref(t)));
//! }
//! // The markers and what the field cannot hold stand for no tag.
//! for i in [NO_INDEX, EMPTY_INDEX, 8, usize::MAX] {
//!     assert_eq!(layout.tag_of(i), None);
//! }
//! // The markers and the tags go in and out of a word unchanged.
//! let word = FlagsWord::new(usize::MAX);
//! for i in [NO_INDEX, EMPTY_INDEX, 4, 5, 7] {
//!     layout.store(&word, i);
//!     assert_eq!(layout.load(&word), i);
//!     assert_eq!(word.load() | (7 << 40), usize::MAX);
//! }
//! // A store replaces a stale index (2 | 5 would be 7), and `take` leaves
//! // the field clear; the other bits stay.
//! let others = usize::MAX & !(7 << 40);
//! let word = FlagsWord::new(others | (2 << 40));
//! layout.store(&word, 5);
//! assert_eq!(layout.load(&word), 5);
//! assert_eq!((layout.take(&word), layout.take(&word)), (5, NO_INDEX));
//! assert_eq!(word.load(), others);
//! // Toggling flips exactly the bits asked for.
//! word.toggle(others ^ 1);
//! assert_eq!(word.load(), 1);
//! word.clear(1);
//! assert_eq!(word.load(), 0);
//! ```
//!
//! Each tag keeps its index, so that storing it takes no arithmetic; a
//! tag's flags stay:
//!
//! ```
//! use kernel::{alloc_tag::{pgtag::PageTagLayout, Tag}, bindings};
//!
//! // SAFETY: An all-zero `alloc_tag` is valid (no pointers are followed).
//! let mut tags: [bindings::alloc_tag; 8] = unsafe { core::mem::zeroed() };
//! tags[5].ct.flags = bindings::CODETAG_FLAG_INACCURATE;
//! let (base, size) = (tags.as_mut_ptr() as usize, core::mem::size_of_val(&tags));
//! let tag = size / tags.len();
//! let layout = PageTagLayout::new();
//! // SAFETY: No index of this layout is in use yet; the tags are valid and
//! // nothing else uses them.
//! unsafe {
//!     layout.set_field(3, 40); // indexes 0..=7
//!     layout.set_kernel_tags(base, 3);
//!     layout.set_module_area(base + 4 * tag, 4 * tag);
//!     layout.give_indexes(base, size);
//! }
//! let kept: [usize; 8] = core::array::from_fn(|i| {
//!     // SAFETY: The tags are valid.
//!     unsafe { Tag::from_raw(&tags[i]) }.page_index()
//! });
//! // Tag 3 is neither the kernel's nor the area's, tag 7 past the field.
//! assert_eq!(kept, [2, 3, 4, 0, 5, 6, 7, 0]);
//! for (t, &k) in tags.iter().zip(&kept) {
//!     assert_eq!(layout.index_of(t).unwrap_or(0), k);
//! }
//! assert_eq!(tags[5].ct.flags & 0xff, bindings::CODETAG_FLAG_INACCURATE);
//! // What no tag can keep is none.
//! // SAFETY: The tag is valid and nothing else uses it.
//! let first = unsafe { Tag::from_raw(tags.as_mut_ptr()) };
//! // SAFETY: As above.
//! unsafe { first.set_page_index(Tag::MAX_PAGE_INDEX) };
//! assert_eq!(first.page_index(), Tag::MAX_PAGE_INDEX);
//! // SAFETY: As above.
//! unsafe { first.set_page_index(Tag::MAX_PAGE_INDEX + 1) };
//! assert_eq!(first.page_index(), 0);
//! ```
//!
//! A field too narrow for every kernel tag gives indexes to the first ones
//! and none to the module area:
//!
//! ```
//! use kernel::{alloc_tag::pgtag::PageTagLayout, bindings};
//!
//! // SAFETY: An all-zero `alloc_tag` is valid (no pointers are followed).
//! let tags: [bindings::alloc_tag; 8] = unsafe { core::mem::zeroed() };
//! let layout = PageTagLayout::new();
//! // SAFETY: No index of this layout is in use yet.
//! unsafe {
//!     layout.set_field(2, 0); // indexes 0..=3: two tags
//!     layout.set_kernel_tags(tags.as_ptr() as usize, 5);
//!     layout.set_module_area(tags[5..].as_ptr() as usize, 3 * core::mem::size_of_val(&tags[0]));
//! }
//! assert_eq!(layout.kernel_tags(), 2);
//! assert_eq!((layout.index_of(&tags[1]), layout.index_of(&tags[2])), (Some(3), None));
//! assert_eq!((layout.index_of(&tags[5]), layout.tag_of(3)), (None, Some(&raw const tags[1])));
//! ```

use super::{boot_param::Boot, codetag::KModule, static_key::StaticKey, Tag};
use crate::{bindings, types::Opaque};
use core::{
    cell::UnsafeCell,
    mem::size_of,
    ptr,
    sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicUsize, Ordering::Relaxed},
};

/// Whether `module`'s tags at `start..start + size` of the module tag area
/// can be referred to from `page->flags` (`pgtag_module_tags_fit()` of
/// `mm/pgtag/`): always outside compressed mode. Warns, naming the module,
/// when they cannot; when they can, each tag keeps its index from now on
/// ([`Tag::set_page_index`]).
///
/// # Safety
///
/// `start..start + size` holds `module`'s allocation tags, which do not
/// count yet (its code has not run), with the tag type's lock held for
/// writing.
pub unsafe fn module_tags_fit(module: &KModule, start: usize, size: usize) -> bool {
    // SAFETY: A module's name is NUL-terminated (`KModule`'s invariant);
    // the tags as the safety requirements have them.
    unsafe { bindings::pgtag_module_tags_fit(module.name().as_char_ptr(), start, size) }
}

/// The bytes of module tags that `page->flags` has indexes for after the
/// kernel's tags (`pgtag_module_room()` of `mm/pgtag/`; `usize::MAX`
/// outside compressed mode).
pub fn module_room() -> usize {
    // SAFETY: No requirements: it reads the layout set up in early boot.
    unsafe { bindings::pgtag_module_room() }
}

/// Decides where page tag references live (`pgtag_compressed_setup()` of
/// `mm/pgtag/`): in `page->flags` when `compressed` and the kernel's tags
/// fit in at most `max_bits` free bits, else in page_ext. `false` (with a
/// warning) when compressed mode was asked for and cannot work.
// Inlined into the caller (`.init.text`, as the C function it calls).
#[inline(always)]
pub fn compressed_setup(_boot: &Boot, compressed: bool, max_bits: u32) -> bool {
    // SAFETY: At boot, before the page allocator gave out a page (`Boot`):
    // single-threaded, and no page is accounted, so no index is in use.
    unsafe { bindings::pgtag_compressed_setup(compressed, max_bits) }
}

/// Every page has its page_ext now (`page_alloc_tagging_ops.init`): the
/// pages allocated before are marked as not accounted (debugging).
pub fn page_ext_ready() {
    // SAFETY: No requirements.
    unsafe { bindings::pgtag_page_ext_ready() }
}

/// Gives the tags of the module tag area, `size` bytes from `base`, the
/// page tag indexes after the kernel's (`pgtag_set_module_area()` of
/// `mm/pgtag/`). The first call counts; `EBUSY` after it.
///
/// The area keeps a tag valid while a page is accounted to it: module
/// tags stay after their module until their counters are zero
/// ([`super::codetag::Writer::forget_unloaded`]).
pub fn set_module_area(base: usize, size: usize) -> crate::error::Result {
    static SET: AtomicBool = AtomicBool::new(false);
    if SET.swap(true, Relaxed) {
        return Err(crate::error::code::EBUSY);
    }
    // SAFETY: The first call: until now the layout had no module area, so
    // it gave no module tag an index, and none is in use.
    unsafe { bindings::pgtag_set_module_area(base, size) };
    Ok(())
}

/// `mem_profiling_compressed`, defined by `mm/pgtag/`: on when page tag
/// references live in `page->flags` (decided at boot).
pub static COMPRESSED_KEY: &StaticKey =
    // SAFETY: The key is a static of mm/pgtag/, never freed; a
    // `static_key_false` starts with its `struct static_key`, which
    // `StaticKey` wraps transparently.
    unsafe { &*ptr::addr_of!(bindings::mem_profiling_compressed).cast::<StaticKey>() };

/// A `page->flags` word, read and changed as C does it.
///
/// C sets and clears page flags with atomic bit operations of any width
/// (on x86 a constant bit is a `lock orb` or `lock andb` on one byte) and
/// writes the word plainly while it owns the page. Rust's atomic types must
/// not be mixed with accesses of another size, so this type uses the
/// instructions of C's `READ_ONCE()`, `atomic_long_xor()` and
/// `atomic_long_andnot()` instead: inline assembly on x86-64, whose effects
/// are the hardware's, as they are for C, and those C functions elsewhere.
///
/// # Invariants
///
/// The word is only accessed atomically (by this type, or by C's atomic
/// operations) while others may change it.
#[repr(transparent)]
pub struct FlagsWord(UnsafeCell<usize>);

// SAFETY: Every access through `&FlagsWord` is atomic (type invariant).
unsafe impl Sync for FlagsWord {}

impl FlagsWord {
    /// A word of its own, holding `value` (for tests).
    pub const fn new(value: usize) -> Self {
        Self(UnsafeCell::new(value))
    }

    /// Borrows a flags word of C.
    ///
    /// # Safety
    ///
    /// `ptr` is valid for `'a`, and while it is borrowed others change the
    /// word only with atomic operations (or not at all).
    #[inline]
    pub unsafe fn from_ptr<'a>(ptr: *mut usize) -> &'a Self {
        // SAFETY: `FlagsWord` is a transparent wrapper; validity is the
        // caller's promise.
        unsafe { &*ptr.cast::<Self>() }
    }

    #[inline]
    fn as_ptr(&self) -> *mut usize {
        self.0.get()
    }

    /// Reads the word, like `READ_ONCE()`.
    #[inline]
    pub fn load(&self) -> usize {
        // SAFETY: An aligned word-sized read of a valid word is single-copy
        // atomic: a `mov`, as `READ_ONCE()` compiles to.
        #[cfg(CONFIG_X86_64)]
        unsafe {
            let v: usize;
            core::arch::asm!(
                "mov {v}, qword ptr [{p}]",
                p = in(reg) self.as_ptr(),
                v = lateout(reg) v,
                options(nostack, readonly, preserves_flags)
            );
            v
        }
        // SAFETY: The word is valid.
        #[cfg(not(CONFIG_X86_64))]
        unsafe {
            bindings::pgtag_flags_read(self.as_ptr().cast()) as usize
        }
    }

    /// Flips the bits of `mask`, atomically, like `atomic_long_xor()`.
    #[inline]
    pub fn toggle(&self, mask: usize) {
        // SAFETY: A locked `xor` on a valid, aligned word: an atomic
        // read-modify-write, as C's `atomic_long_xor()` on x86-64.
        #[cfg(CONFIG_X86_64)]
        unsafe {
            core::arch::asm!(
                "lock xor qword ptr [{p}], {m}",
                p = in(reg) self.as_ptr(),
                m = in(reg) mask,
                options(nostack)
            )
        };
        // SAFETY: The word is valid.
        #[cfg(not(CONFIG_X86_64))]
        unsafe {
            bindings::pgtag_flags_xor(self.as_ptr().cast(), mask as _)
        };
    }

    /// Clears the bits of `mask`, atomically, like `atomic_long_andnot()`.
    #[inline]
    pub fn clear(&self, mask: usize) {
        // SAFETY: A locked `and` on a valid, aligned word: an atomic
        // read-modify-write, as C's `atomic_long_andnot()` on x86-64.
        #[cfg(CONFIG_X86_64)]
        unsafe {
            core::arch::asm!(
                "lock and qword ptr [{p}], {m}",
                p = in(reg) self.as_ptr(),
                m = in(reg) !mask,
                options(nostack)
            )
        };
        // SAFETY: The word is valid.
        #[cfg(not(CONFIG_X86_64))]
        unsafe {
            bindings::pgtag_flags_andnot(self.as_ptr().cast(), mask as _)
        };
    }
}

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
///
/// # Invariants
///
/// `shift < usize::BITS` and `mask` is a run of ones from bit `shift` up;
/// `kernel_reach + module_reach` is at most the bytes of the tags the field
/// has indexes for, so every address [`PageTagLayout::tag_of`] gives is
/// inside the kernel's tags or the module area.
pub struct PageTagLayout {
    mask: AtomicUsize,
    shift: AtomicU32,
    kernel_start: AtomicUsize,
    /// The kernel's tags, in bytes.
    kernel_bytes: AtomicUsize,
    /// The bytes of the kernel's tags that have an index.
    kernel_reach: AtomicUsize,
    module_base: AtomicUsize,
    /// The area's size, whole tags only.
    module_bytes: AtomicUsize,
    /// The bytes from `module_base` whose tags have an index.
    module_reach: AtomicUsize,
    /// `kernel_reach + module_reach`: the offsets (from the first tag
    /// index) that stand for a tag.
    reach: AtomicUsize,
    /// `module_base - kernel_reach` (wrapping): the address of the tag at
    /// an offset past the kernel's is this plus the offset.
    module_bias: AtomicUsize,
}

impl Default for PageTagLayout {
    fn default() -> Self {
        Self::new()
    }
}

impl PageTagLayout {
    /// An empty layout: a one-bit field at bit 0, no tags.
    pub const fn new() -> Self {
        // INVARIANT: Shift 0, mask one bit; no tags.
        Self {
            mask: AtomicUsize::new(1),
            shift: AtomicU32::new(0),
            kernel_start: AtomicUsize::new(0),
            kernel_bytes: AtomicUsize::new(0),
            kernel_reach: AtomicUsize::new(0),
            module_base: AtomicUsize::new(0),
            module_bytes: AtomicUsize::new(0),
            module_reach: AtomicUsize::new(0),
            reach: AtomicUsize::new(0),
            module_bias: AtomicUsize::new(0),
        }
    }

    /// Puts the field at `bits` bits from bit `shift` up (`1 <= bits` and
    /// `bits + shift <= usize::BITS`, else the field is left alone).
    ///
    /// # Safety
    ///
    /// No index this layout gave is in use: none will be read with it (a
    /// changed layout gives an index another meaning).
    pub unsafe fn set_field(&self, bits: u32, shift: u32) {
        if bits == 0 || bits.saturating_add(shift) > usize::BITS {
            return;
        }
        // INVARIANT: `shift < bits + shift <= usize::BITS`; the reaches
        // follow.
        self.mask
            .store((usize::MAX >> (usize::BITS - bits)) << shift, Relaxed);
        self.shift.store(shift, Relaxed);
        self.set_reach();
    }

    /// The kernel's tags: `count` of them from address `start`.
    ///
    /// # Safety
    ///
    /// As for [`PageTagLayout::set_field`]; and if the layout is given to a
    /// page [`Handle`], `start` is where `count` valid allocation tags
    /// begin that outlive the layout's use.
    pub unsafe fn set_kernel_tags(&self, start: usize, count: usize) {
        self.kernel_start.store(start, Relaxed);
        self.kernel_bytes
            .store(count.saturating_mul(TAG_SIZE), Relaxed);
        self.set_reach();
    }

    /// The module tag area: `size` bytes from `base` (whole tags count).
    ///
    /// # Safety
    ///
    /// As for [`PageTagLayout::set_field`]; and if the layout is given to a
    /// page [`Handle`], a tag of the area that a page is accounted to is a
    /// valid allocation tag until no page is.
    pub unsafe fn set_module_area(&self, base: usize, size: usize) {
        self.module_base.store(base, Relaxed);
        self.module_bytes.store(size - size % TAG_SIZE, Relaxed);
        self.set_reach();
    }

    /// The bytes of the tags the field has indexes for, markers aside.
    fn room(&self) -> usize {
        self.max_index()
            .saturating_add(1)
            .saturating_sub(FIRST_TAG_INDEX)
            .saturating_mul(TAG_SIZE)
    }

    /// Gives indexes to as many tags as the field holds, the kernel's first.
    fn set_reach(&self) {
        let room = self.room();
        let kernel = self.kernel_bytes.load(Relaxed).min(room);
        // INVARIANT: Together at most `room`.
        self.kernel_reach.store(kernel, Relaxed);
        let module = self.module_bytes.load(Relaxed).min(room - kernel);
        self.module_reach.store(module, Relaxed);
        self.reach.store(kernel + module, Relaxed);
        self.module_bias
            .store(self.module_base.load(Relaxed).wrapping_sub(kernel), Relaxed);
    }

    /// The largest index the field holds.
    #[inline]
    pub fn max_index(&self) -> usize {
        self.mask.load(Relaxed) >> self.shift.load(Relaxed)
    }

    /// The number of kernel tags that have an index (all of them, once
    /// the field is wide enough).
    #[inline]
    pub fn kernel_tags(&self) -> usize {
        self.kernel_reach.load(Relaxed) / TAG_SIZE
    }

    /// The bytes of module tags the field has indexes for once the
    /// kernel's tags have theirs, whatever the module area's size.
    #[inline]
    pub fn module_room(&self) -> usize {
        self.room().saturating_sub(self.kernel_bytes.load(Relaxed))
    }

    /// The start of the module tag area.
    #[inline]
    pub fn module_base(&self) -> usize {
        self.module_base.load(Relaxed)
    }

    /// The index the module area's tag at `addr` has, or would have with a
    /// field wide enough.
    #[inline]
    pub fn module_index(&self, addr: usize) -> usize {
        let off = addr.wrapping_sub(self.module_base.load(Relaxed));
        FIRST_TAG_INDEX + (self.kernel_reach.load(Relaxed) + off) / TAG_SIZE
    }

    /// The index of the tag at `tag`: kernel tags by their place in the
    /// kernel's section, module tags by theirs in the area. `None` for an
    /// address in neither, or past the field's reach.
    #[inline]
    pub fn index_of(&self, tag: *const bindings::alloc_tag) -> Option<usize> {
        let addr = tag as usize;
        let kernel = self.kernel_reach.load(Relaxed);
        let mut off = addr.wrapping_sub(self.kernel_start.load(Relaxed));
        if off >= kernel {
            let m = addr.wrapping_sub(self.module_base.load(Relaxed));
            if m >= self.module_reach.load(Relaxed) {
                return None;
            }
            // No overflow: both reaches together fit the field's tags.
            off = kernel.wrapping_add(m);
        }
        Some(FIRST_TAG_INDEX + off / TAG_SIZE)
    }

    /// Gives each tag of `size` bytes from `start` the index [`index_of`]
    /// finds for it to keep ([`Tag::set_page_index`]), for [`Handle`] to
    /// store: none for a tag without one.
    ///
    /// [`index_of`]: PageTagLayout::index_of
    ///
    /// # Safety
    ///
    /// `start..start + size` holds valid allocation tags, as the safety
    /// requirements of [`Tag::set_page_index`] have them.
    pub unsafe fn give_indexes(&self, start: usize, size: usize) {
        for addr in (start..start.saturating_add(size)).step_by(TAG_SIZE) {
            let tag = addr as *const bindings::alloc_tag;
            // SAFETY: Per the safety requirements `tag` is a valid tag whose
            // flags nothing else writes.
            unsafe { Tag::from_raw(tag).set_page_index(self.index_of(tag).unwrap_or(NO_INDEX)) };
        }
    }

    /// The address of the tag `index` stands for; `None` for the markers
    /// and for indexes past the field's reach.
    #[inline]
    pub fn tag_of(&self, index: usize) -> Option<*const bindings::alloc_tag> {
        // A marker wraps around to a huge offset, past the reach.
        let off = index.wrapping_sub(FIRST_TAG_INDEX).wrapping_mul(TAG_SIZE);
        if off >= self.reach.load(Relaxed) {
            return None;
        }
        // One base or the other, no branch: the module area's is biased
        // by the kernel's reach. Both loaded first, so that the choice is
        // of values (a `cmov`), not of which field to load.
        let (kernel, module) = (
            self.kernel_start.load(Relaxed),
            self.module_bias.load(Relaxed),
        );
        let base = if off < self.kernel_reach.load(Relaxed) {
            kernel
        } else {
            module
        };
        Some(base.wrapping_add(off) as *const bindings::alloc_tag)
    }

    /// The index stored in `word`.
    #[inline]
    pub fn load(&self, word: &FlagsWord) -> usize {
        (word.load() & self.mask.load(Relaxed)).wrapping_shr(self.shift.load(Relaxed))
    }

    /// Stores `index` (at most [`PageTagLayout::max_index`]) in `word`,
    /// leaving every other bit as it is, also those that other CPUs change
    /// meanwhile: one atomic XOR of the field's old bits with its new ones.
    /// The caller is the only writer of the field meanwhile.
    #[inline]
    pub fn store(&self, word: &FlagsWord, index: usize) {
        // One load of the mask: the compiler does not merge atomic loads.
        // By the type invariant the shift is less than the word's width;
        // the bits past the field are dropped.
        let mask = self.mask.load(Relaxed);
        let new = index.wrapping_shl(self.shift.load(Relaxed)) & mask;
        word.toggle((word.load() & mask) ^ new);
    }

    /// Takes the index out of `word`: returns it and leaves [`NO_INDEX`],
    /// with an atomic AND that leaves the other bits as they are. The
    /// caller is the only writer of the field meanwhile.
    #[inline]
    pub fn take(&self, word: &FlagsWord) -> usize {
        // One load of the mask, as in `store`.
        let mask = self.mask.load(Relaxed);
        let bits = word.load() & mask;
        // `NO_INDEX` is no bits.
        if bits != 0 {
            word.clear(mask);
        }
        bits.wrapping_shr(self.shift.load(Relaxed))
    }
}

/// With debugging, "empty" is a marker of its own (`CODETAG_EMPTY`) and the
/// page-tag paths check that references are set and cleared in pairs;
/// without, an empty reference is no reference.
const DEBUG: bool = cfg!(CONFIG_MEM_ALLOC_PROFILING_DEBUG);

/// Reports a broken pairing of set and clear once (debugging only), as
/// `alloc_tag: page tag reference <what>`, with a stack trace.
#[cold]
pub fn report_once(what: &str) {
    static REPORTED: AtomicBool = AtomicBool::new(false);
    if REPORTED.swap(true, Relaxed) {
        return;
    }
    // SAFETY: The format is NUL-terminated and takes one `%pA`, which
    // `vsprintf` reads as a `core::fmt::Arguments`; `dump_stack()` has no
    // requirements.
    unsafe {
        bindings::_printk(
            crate::c_str!("\x013alloc_tag: page tag reference %pA\n").as_char_ptr(),
            ptr::from_ref(&format_args!("{what}")).cast::<core::ffi::c_void>(),
        );
        bindings::dump_stack();
    }
}

/// What a page is accounted to: its tag reference, whichever way it is
/// stored.
#[derive(Clone, Copy)]
pub enum PageRef<'a> {
    /// The page is not accounted.
    None,
    /// Not accounted, and freeing it must not warn (debugging only;
    /// without it this is [`PageRef::None`]).
    Empty,
    /// Accounted to this tag.
    Tag(&'a Tag),
}

/// A page of the memory map whose tag reference its borrower owns: the
/// code that allocates or frees it, splits or migrates it.
///
/// # Examples
///
/// A page of this test's own, its reference read and written in
/// `page->flags` with a layout of the test's own (two tags, a field of two
/// bits where compressed mode puts its field), then given back as it was;
/// and in page_ext, where the page allocator accounted it.
///
/// ```
/// use core::ptr;
/// use kernel::{
///     alloc::flags::GFP_KERNEL,
///     alloc_tag::{
///         pgtag::{
///             page_ext_holds_tags, FlagsWord, PageRef, PageTagLayout, TaggedPage, COMPRESSED_KEY,
///         },
///         Tag,
///     },
///     bindings,
///     page::Page,
/// };
///
/// struct Tags(core::cell::UnsafeCell<[bindings::alloc_tag; 3]>);
/// // SAFETY: The tags are written only below, before anything reads them.
/// unsafe impl Sync for Tags {}
/// // SAFETY: An all-zero `alloc_tag` is valid (no pointers are followed).
/// static TAGS: Tags = Tags(core::cell::UnsafeCell::new(unsafe { core::mem::zeroed() }));
/// static LAYOUT: PageTagLayout = PageTagLayout::new();
/// let tags = TAGS.0.get().cast::<bindings::alloc_tag>();
/// // SAFETY: The layout is new, and its tags are statics nothing else uses.
/// unsafe {
///     LAYOUT.set_field(2, bindings::NR_PAGEFLAGS);
///     LAYOUT.set_kernel_tags(tags as usize, 2);
///     LAYOUT.give_indexes(tags as usize, core::mem::size_of::<Tags>());
/// }
/// // SAFETY: Tags of `TAGS`, which lives for ever.
/// let [t0, t1, outside] = [0, 1, 2].map(|i| unsafe { Tag::from_raw(tags.add(i)) });
///
/// let page = Page::alloc_page(GFP_KERNEL)?;
/// // SAFETY: The page is this test's: nothing else writes its reference.
/// let tagged = unsafe { TaggedPage::from_raw(page.as_ptr()) };
/// // SAFETY: A word of the page, which others change only atomically.
/// let word = unsafe { FlagsWord::from_ptr(ptr::addr_of_mut!((*page.as_ptr()).flags)) };
/// let (before, saved) = (word.load(), LAYOUT.load(word));
/// let is = |r: PageRef<'_>, t: &Tag| matches!(r, PageRef::Tag(x) if ptr::eq(x, t));
/// tagged.with_flags(&LAYOUT, |h| {
///     assert!(h.update(PageRef::Tag(t1)) && is(h.read(), t1));
///     assert!(h.update(PageRef::Tag(t0)) && is(h.read(), t0));
///     // A tag the layout has no index for is not recorded.
///     assert!(!h.update(PageRef::Tag(outside)) && is(h.read(), t0));
///     assert!(is(h.take(), t0));
///     // No index: no tag, with or without debugging (`NO_INDEX` is a
///     // marker `tag_of` finds no tag for).
///     assert!(matches!(h.read(), PageRef::None));
///     assert!(matches!(h.take(), PageRef::None));
///     // "Empty" is a marker of its own only with debugging.
///     assert!(h.update(PageRef::Empty));
///     let debug = cfg!(CONFIG_MEM_ALLOC_PROFILING_DEBUG);
///     assert_eq!(matches!(h.take(), PageRef::Empty), debug);
/// });
/// LAYOUT.store(word, saved);
/// assert_eq!(word.load(), before);
///
/// // In page_ext mode the page is accounted to the Rust helper's call
/// // site, while profiling is on. page_ext may exist with no tag
/// // references in it (`never`): then there is nothing to read.
/// if page_ext_holds_tags() {
///     // SAFETY: page_ext holds tag references.
///     let function = unsafe {
///         tagged.with_page_ext(None, |h| match h.read() {
///             PageRef::Tag(t) => Some(t.ct().function().as_bytes() == b"rust_helper_alloc_pages"),
///             _ => None,
///         })
///     };
///     assert_ne!(function, Some(false));
/// }
/// # Ok::<(), Error>(())
/// ```
///
/// # Invariants
///
/// A valid `struct page`; while it is borrowed nothing but the borrower
/// writes its tag reference (other bits of its flags may change at any
/// time, atomically).
#[repr(transparent)]
pub struct TaggedPage(Opaque<bindings::page>);

impl TaggedPage {
    /// Borrows a page whose tag reference the caller owns.
    ///
    /// # Safety
    ///
    /// `page` is a valid page, and for `'a` nothing else writes its tag
    /// reference (the caller allocates or frees it, splits or migrates it);
    /// others change its flags only atomically meanwhile.
    #[inline(always)]
    pub unsafe fn from_raw<'a>(page: *mut bindings::page) -> &'a Self {
        // SAFETY: `TaggedPage` is a transparent wrapper; the rest is the
        // caller's promise.
        unsafe { &*page.cast() }
    }

    /// Returns the raw pointer to the page.
    #[inline(always)]
    pub fn as_ptr(&self) -> *mut bindings::page {
        ptr::from_ref(self).cast_mut().cast()
    }

    /// Runs `f` on the handle of the page's reference in `page->flags`,
    /// whose indexes follow `layout` (compressed mode).
    ///
    /// Inlined, and calls nothing: the caller's path needs no stack frame.
    #[inline(always)]
    pub fn with_flags<R>(
        &self,
        layout: &'static PageTagLayout,
        f: impl FnOnce(&Handle<'_>) -> R,
    ) -> R {
        // SAFETY: The page is valid (type invariant) and `flags` is a word
        // of it; others change it only atomically while the page is
        // borrowed (a plain write needs the reference's owner).
        let flags = unsafe { FlagsWord::from_ptr(ptr::addr_of_mut!((*self.as_ptr()).flags)) };
        f(&Handle::Flags(flags, layout))
    }

    /// Runs `f` on the handle of the page's reference in page_ext, or gives
    /// `none` if the page has no page_ext (yet).
    ///
    /// Inlined: the caller decides where its own out-of-line function for
    /// this mode starts, so that each is compiled for its one call site.
    ///
    /// # Safety
    ///
    /// page_ext holds tag references ([`page_ext_holds_tags`]): it does
    /// whenever profiling is enabled and compressed mode is off, which is
    /// when C calls the page-tag paths. Otherwise another client's data may
    /// be where the reference would be, or nothing at all.
    #[inline(always)]
    pub unsafe fn with_page_ext<R>(&self, none: R, f: impl FnOnce(&Handle<'_>) -> R) -> R {
        // SAFETY: A valid page (type invariant).
        let ext = unsafe { bindings::page_ext_get(self.as_ptr()) };
        match ptr::NonNull::new(ext) {
            // INVARIANT: A page_ext reference, put when the handle drops,
            // of a page whose tag reference the borrower owns; its page_ext
            // holds a tag reference (the safety requirements).
            Some(ext) => f(&Handle::Ext(ext)),
            None => none,
        }
    }

    /// Returns the `i`-th page from this one.
    ///
    /// # Safety
    ///
    /// The pages up to the `i`-th are of one folio, owned as this one is.
    #[inline]
    unsafe fn nth(&self, i: usize) -> &Self {
        // SAFETY: A page is the start of a folio of its own size or more;
        // per the safety requirements the `i`-th page is in it and owned
        // alike.
        unsafe { Self::from_raw(bindings::folio_page(self.as_ptr().cast(), i)) }
    }
}

/// Whether page_ext keeps a tag reference for every page: its client
/// `page_alloc_tagging_ops` was needed at boot (profiling not off for good,
/// compressed mode off). Decided before page_ext is set up, fixed since.
///
/// page_ext may exist for other clients while it holds no tag reference
/// (`sysctl.vm.mem_profiling=never` with `page_owner`): the page-tag paths
/// must not look there then.
pub fn page_ext_holds_tags() -> bool {
    // SAFETY: A static of `lib/alloc_tag_rs/`, whose callbacks are never
    // changed.
    let need = unsafe { (*ptr::addr_of!(bindings::page_alloc_tagging_ops)).need };
    // SAFETY: page_ext's `need` callback takes no arguments and may be
    // called at any time: it reads two settings made in early boot.
    need.is_some_and(|need| unsafe { need() })
}

/// The `struct codetag *` slot page_ext holds for allocation tagging, at
/// `page_alloc_tagging_ops.offset` of `ext`, when it holds tag references
/// ([`page_ext_holds_tags`]).
#[inline]
fn ext_slot(ext: ptr::NonNull<bindings::page_ext>) -> *mut *mut bindings::codetag {
    // SAFETY: page_ext set the offset at boot, before any page_ext
    // existed; it is read-only since.
    let offset = unsafe { (*ptr::addr_of!(bindings::page_alloc_tagging_ops)).offset };
    ext.as_ptr().cast::<u8>().wrapping_add(offset).cast()
}

/// Access to one page's tag reference while it is held: C's
/// `pgtag_ref_handle` in the upstream design. [`TaggedPage::with_flags`]
/// and [`TaggedPage::with_page_ext`] give one.
///
/// # Invariants
///
/// `Ext` holds a reference from `page_ext_get()` (put on drop) of a page
/// whose tag reference the holder owns, while page_ext holds tag
/// references ([`page_ext_holds_tags`]); `Flags` is the `flags` word of
/// such a page, with the layout its indexes follow.
// An explicit discriminant, not the niche of a null `Flags` pointer: the
// variant is then a constant where the handle is made, and each path is
// compiled for its mode alone.
#[repr(u8)]
pub enum Handle<'a> {
    /// In page_ext.
    Ext(ptr::NonNull<bindings::page_ext>),
    /// In `page->flags`.
    Flags(&'a FlagsWord, &'static PageTagLayout),
}

impl Handle<'_> {
    /// What a `page->flags` index stands for.
    #[inline]
    fn index_ref(layout: &PageTagLayout, index: usize) -> PageRef<'static> {
        if DEBUG {
            match index {
                NO_INDEX => return PageRef::None,
                EMPTY_INDEX => return PageRef::Empty,
                _ => {}
            }
        }
        // Without debugging `NO_INDEX` needs no test of its own: it is a
        // marker, which `tag_of` finds no tag for, and a missing reference
        // is not reported.
        match layout.tag_of(index) {
            // SAFETY: Only indexes of tags are stored (`update`), the
            // layout's tags are valid allocation tags (its setters'
            // requirements), and a tag with a page accounted to it stays
            // (module tags are kept until their counters are zero).
            Some(tag) => PageRef::Tag(unsafe { Tag::from_raw(tag) }),
            None => {
                if DEBUG {
                    report_once("holds an index past the tags");
                }
                PageRef::None
            }
        }
    }

    /// What a page_ext slot holds.
    #[inline]
    fn slot_ref(ct: *mut bindings::codetag) -> PageRef<'static> {
        match ct as usize {
            0 => PageRef::None,
            EMPTY_INDEX if DEBUG => PageRef::Empty,
            // SAFETY: Only tags are stored (`update`), and a tag with a
            // page accounted to it stays; `ct` is the first field of its
            // allocation tag.
            _ => PageRef::Tag(unsafe { Tag::from_raw(ct.cast()) }),
        }
    }

    /// Reads the reference.
    #[inline]
    pub fn read(&self) -> PageRef<'static> {
        match self {
            Handle::Flags(flags, layout) => Self::index_ref(layout, layout.load(flags)),
            // SAFETY: By the type invariant the slot is valid and ours.
            Handle::Ext(ext) => Self::slot_ref(unsafe { *ext_slot(*ext) }),
        }
    }

    /// Records `r`; `false` (nothing recorded) if a tag has no index.
    #[inline]
    pub fn update(&self, r: PageRef<'_>) -> bool {
        match self {
            Handle::Flags(flags, layout) => {
                let index = match r {
                    PageRef::None => NO_INDEX,
                    PageRef::Empty if DEBUG => EMPTY_INDEX,
                    PageRef::Empty => NO_INDEX,
                    // The index the tag keeps, given with the layout's
                    // (`give_indexes`).
                    PageRef::Tag(t) => match t.page_index() {
                        NO_INDEX => return false,
                        i => {
                            if DEBUG && layout.index_of(t.as_ptr()) != Some(i) {
                                report_once("would get an index its tag does not have");
                            }
                            i
                        }
                    },
                };
                // Other bits of the word change under us (page flags set
                // atomically by others): the store replaces only the field.
                layout.store(flags, index);
            }
            Handle::Ext(ext) => {
                let ct = match r {
                    PageRef::None => ptr::null_mut(),
                    PageRef::Empty if DEBUG => EMPTY_INDEX as *mut bindings::codetag,
                    PageRef::Empty => ptr::null_mut(),
                    PageRef::Tag(t) => t.as_ptr().cast(),
                };
                // SAFETY: By the type invariant the slot is valid and ours.
                unsafe { *ext_slot(*ext) = ct };
            }
        }
        true
    }

    /// Takes the reference away (a page being freed): what it was, and
    /// [`PageRef::None`] left behind.
    #[inline]
    pub fn take(&self) -> PageRef<'static> {
        match self {
            Handle::Flags(flags, layout) => Self::index_ref(layout, layout.take(flags)),
            // SAFETY: By the type invariant the slot is valid and ours.
            Handle::Ext(ext) => Self::slot_ref(unsafe { ext_slot(*ext).replace(ptr::null_mut()) }),
        }
    }
}

impl Drop for Handle<'_> {
    #[inline]
    fn drop(&mut self) {
        if let Handle::Ext(ext) = self {
            // SAFETY: By the type invariant, a reference from `page_ext_get()`.
            unsafe { bindings::page_ext_put(ext.as_ptr()) };
        }
    }
}

/// A folio just split by its owner: the `2^old_order` pages of the folio it
/// was, each the head of a new folio or a tail of one.
pub struct SplitFolio<'a> {
    head: &'a TaggedPage,
    pages: usize,
}

impl<'a> SplitFolio<'a> {
    /// Borrows the pages of a folio just split.
    ///
    /// # Safety
    ///
    /// `folio` was a folio of order `old_order` (less than
    /// `usize::BITS`), split just now, and for `'a` the caller owns the
    /// tag references of its pages.
    #[inline]
    pub unsafe fn from_raw(folio: *mut bindings::folio, old_order: u32) -> Self {
        Self {
            // SAFETY: A folio starts with its head page; per the safety
            // requirements the caller owns its reference.
            head: unsafe { TaggedPage::from_raw(folio.cast()) },
            pages: 1 << old_order,
        }
    }

    /// The first page of the folio it was.
    #[inline]
    pub fn head(&self) -> &'a TaggedPage {
        self.head
    }

    /// The pages from the `step`-th on, every `step`-th one (`step` at
    /// least 1): the heads of the new folios after the first when `step`
    /// is their size.
    pub fn pages_from(&self, step: usize) -> impl Iterator<Item = &'a TaggedPage> + '_ {
        let head = self.head;
        (step.max(1)..self.pages)
            .step_by(step.max(1))
            // SAFETY: `i` is less than the old folio's size, whose pages
            // the caller owns.
            .map(move |i| unsafe { head.nth(i) })
    }
}

/// Pages allocated before their page_ext existed (page_ext comes late in
/// boot, in `page_ext_init()`), in page_ext mode with debugging: they have
/// no reference, and freeing one later would report. A table of `N` of
/// them, bounded as upstream's fix has it, marked "empty" once page_ext
/// exists ([`EarlyPages::mark_empty`]).
pub struct EarlyPages<const N: usize> {
    pages: [AtomicPtr<bindings::page>; N],
    /// How many were seen, recorded or not.
    seen: AtomicUsize,
}

impl<const N: usize> Default for EarlyPages<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> EarlyPages<N> {
    /// An empty table.
    pub const fn new() -> Self {
        Self {
            pages: [const { AtomicPtr::new(ptr::null_mut()) }; N],
            seen: AtomicUsize::new(0),
        }
    }

    /// Remembers `page`, allocated while it had no page_ext.
    #[cold]
    pub fn record(&self, page: &TaggedPage) {
        if let Some(slot) = self.pages.get(self.seen.fetch_add(1, Relaxed)) {
            slot.store(page.as_ptr(), Relaxed);
        }
    }

    /// Marks the page_ext slot of every page recorded "empty" if it holds
    /// no reference, unless it was freed and allocated again meanwhile:
    /// how many it marked, and how many more were seen than recorded.
    ///
    /// Once every page has its page_ext (`page_alloc_tagging_ops.init`,
    /// which page_ext calls whether or not it holds tag references: if it
    /// does not, nothing is marked).
    pub fn mark_empty(&self) -> (usize, usize) {
        if !page_ext_holds_tags() {
            return (0, 0);
        }
        let seen = self.seen.load(Relaxed);
        let mut marked = 0;
        for page in self.pages.iter().take(seen).map(|p| p.load(Relaxed)) {
            if page.is_null() {
                continue;
            }
            // SAFETY: A page of the memory map, which stays (pages of
            // early boot are never hot-removed).
            let ext = unsafe { bindings::page_ext_get(page) };
            let Some(ext) = ptr::NonNull::new(ext) else {
                continue;
            };
            // SAFETY: A valid slot, aligned for a pointer. The page may be
            // freed or allocated meanwhile, but others write the slot with
            // single stores of the whole pointer: it changes from "none" to
            // "empty" only, in one atomic step, so a reference an
            // allocation sets is never lost.
            let slot = unsafe { AtomicPtr::from_ptr(ext_slot(ext)) };
            let empty = EMPTY_INDEX as *mut bindings::codetag;
            marked += slot
                .compare_exchange(ptr::null_mut(), empty, Relaxed, Relaxed)
                .is_ok() as usize;
            // SAFETY: The reference `page_ext_get()` gave.
            unsafe { bindings::page_ext_put(ext.as_ptr()) };
        }
        (marked, seen.saturating_sub(N))
    }
}
