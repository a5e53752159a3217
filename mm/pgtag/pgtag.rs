// SPDX-License-Identifier: GPL-2.0

//! Page tag references: where the allocation tag a page is accounted to is
//! recorded, and the page-tag paths of the page allocator.
//!
//! A reference lives in one of two places, chosen at boot:
//!
//! - page_ext (the default): a `union codetag_ref` in the page's extension,
//!   found with `page_ext_get()` and released with `page_ext_put()`;
//! - `page->flags` (`sysctl.vm.mem_profiling=1,compressed`, the static key
//!   `mem_profiling_compressed`): an index in the free bits between the page
//!   flags and the fields above them (`NR_UNUSED_PAGEFLAG_BITS`); 0 is no
//!   tag, 1 the "empty" marker, then the kernel's tags, then the module tag
//!   area's (see [`layout`]). page_ext then holds nothing for tagging.
//!
//! [`Handle`] (C's `pgtag_ref_handle` in the upstream design, in the kernel
//! crate's `alloc_tag::pgtag` with the rest of the raw-pointer work) hides
//! which: every path (add, sub, get, clear, split, the migration swap)
//! turns its C pointers into a [`TaggedPage`] once, gets a handle from
//! [`with_handle`], reads, updates, sets or takes the reference, and drops
//! the handle. C calls these paths only while profiling is enabled: the
//! static key test stays inline in `include/linux/pgalloc_tag.h`. So does
//! the test of `mem_profiling_compressed` for the add, sub and get paths,
//! which have a function for each place (`__pgalloc_tag_add_flags()` and
//! `__pgalloc_tag_add()`, ...): with jump labels C's test is a patched
//! jump, where ours would be a load, a test and a branch.
//!
//! The allocator's paths (add, sub, get) are built for instruction count:
//! in compressed mode each is one function without a stack frame; an index
//! is set with one atomic XOR (of the field's old bits with its new ones:
//! only the page's owner writes the field) and cleared with one atomic
//! AND (`scripts/trace` shows where each instruction goes).
//!
//! Setup comes from `lib/alloc_tag_rs/` (the boot parameter and the module
//! tag area) through [`pgtag_compressed_setup`], [`pgtag_set_module_area`]
//! and [`pgtag_module_tags_fit`].

use core::{
    ffi::{c_int, c_uint},
    mem::size_of,
    ptr,
};
use kernel::{
    alloc_tag::{
        pgtag::{report_once, EarlyPages, Handle, PageRef, PageTagLayout, SplitFolio, TaggedPage},
        static_key::StaticKey,
        Tag,
    },
    bindings,
    ffi::c_char,
    page::PAGE_SIZE,
    prelude::*,
    str::CStr,
};

pub mod layout;

use layout::{bits_for, FlagsField, IndexMap};

const __LOG_PREFIX: &[u8] = b"alloc_tag\0";

/// Whether page tag references live in `page->flags`; C declares it in
/// `include/linux/pgalloc_tag.h` and `/proc/sys/vm/mem_profiling_compressed`
/// shows it.
#[no_mangle]
pub static mem_profiling_compressed: StaticKey = StaticKey::new(false);

const TAG_SIZE: usize = size_of::<bindings::alloc_tag>();

/// With debugging, "empty" is a marker of its own (`CODETAG_EMPTY`) and the
/// paths check that references are set and cleared in pairs; without, an
/// empty reference is no reference.
const DEBUG: bool = cfg!(CONFIG_MEM_ALLOC_PROFILING_DEBUG);

extern "C" {
    /// The kernel's allocation tags (`include/asm-generic/codetag.lds.h`).
    static __start_alloc_tags: [bindings::alloc_tag; 0];
    static __stop_alloc_tags: [bindings::alloc_tag; 0];
}

fn kernel_tags_start() -> usize {
    ptr::addr_of!(__start_alloc_tags) as usize
}

fn kernel_tags_bytes() -> usize {
    ptr::addr_of!(__stop_alloc_tags) as usize - kernel_tags_start()
}

/// Where indexes live and what they stand for, in compressed mode: set in
/// early boot before the key goes on, and the module area's part once
/// before any module tag exists.
static LAYOUT: PageTagLayout = PageTagLayout::new();

/// Pages allocated before their page_ext existed (debugging, page_ext
/// mode); without debugging the table has no room and records nothing.
const EARLY_ROOM: usize = if DEBUG { 8192 } else { 0 };
static EARLY: EarlyPages<EARLY_ROOM> = EarlyPages::new();

/// Proof that profiling is enabled, or was when C tested it around the
/// call: page tag references then live in `page->flags` or in page_ext,
/// which holds them whenever compressed mode is off.
#[derive(Clone, Copy)]
struct Enabled(());

impl Enabled {
    /// # Safety
    ///
    /// Profiling is enabled (`mem_alloc_profiling_enabled()`), or was when
    /// the C caller tested it; it cannot have been off for good since.
    #[inline(always)]
    unsafe fn new() -> Self {
        Self(())
    }
}

/// Where page tag references live, as the boot chose: `page->flags` or
/// page_ext.
///
/// # Invariants
///
/// The field is whether `mem_profiling_compressed` is on: made only by
/// [`Place::of_boot`] and [`Place::tested`].
#[derive(Clone, Copy)]
struct Place(bool);

impl Place {
    /// The place, from the key.
    #[inline(always)]
    fn of_boot() -> Self {
        // INVARIANT: From the key.
        Self(mem_profiling_compressed.is_enabled())
    }

    /// The place C found the key to say (the add, sub and get paths test it
    /// inline, as a patched jump with jump labels).
    ///
    /// # Safety
    ///
    /// `flags` is whether `mem_profiling_compressed` is on.
    #[inline(always)]
    unsafe fn tested(flags: bool) -> Self {
        // INVARIANT: Per the safety requirements.
        Self(flags)
    }
}

/// Runs `f` on the handle of `page`'s reference in the mode the boot
/// chose; `none` if the page has no page_ext (yet).
#[inline(always)]
fn with_handle<R>(en: Enabled, page: &TaggedPage, none: R, f: impl FnOnce(&Handle<'_>) -> R) -> R {
    with_place(en, Place::of_boot(), page, none, f)
}

/// [`with_handle`] at a place known already.
///
/// The `page->flags` path is inlined into the caller and calls nothing, so
/// it needs no stack frame; the page_ext path, which calls into page_ext,
/// is a function of its own.
#[inline(always)]
fn with_place<R>(
    en: Enabled,
    place: Place,
    page: &TaggedPage,
    none: R,
    f: impl FnOnce(&Handle<'_>) -> R,
) -> R {
    if place.0 {
        page.with_flags(&LAYOUT, f)
    } else {
        with_page_ext(en, page, none, f)
    }
}

/// [`with_place`] in page_ext mode.
#[inline(never)]
fn with_page_ext<R>(_: Enabled, page: &TaggedPage, none: R, f: impl FnOnce(&Handle<'_>) -> R) -> R {
    // SAFETY: Profiling is enabled (`Enabled`), so it was not off for good
    // at boot, and compressed mode is off (`with_place`): page_ext was
    // asked for tag references.
    unsafe { page.with_page_ext(none, f) }
}

/// `page_alloc_tagging_ops.init`, once every page has its page_ext: the
/// pages allocated before are marked "empty" (debugging only), unless they
/// were freed and allocated again meanwhile.
#[no_mangle]
pub extern "C" fn pgtag_page_ext_ready() {
    if !DEBUG {
        return;
    }
    let (marked, lost) = EARLY.mark_empty();
    pr_info!(
        "{} pages allocated before page_ext existed marked as not accounted\n",
        marked
    );
    if lost != 0 {
        pr_warn!(
            "{} more pages from before page_ext not recorded: freeing one will report\n",
            lost
        );
    }
}

/// `pgalloc_tag_add()`: accounts the `2^order` pages from `page` on to
/// `task`'s tag, in page_ext mode (`mem_profiling_compressed` is off).
///
/// # Safety
///
/// `page` is a page being allocated, of order at most `MAX_PAGE_ORDER`,
/// and `task` a live task (C passes `current`); profiling is enabled and
/// compressed mode is off.
#[no_mangle]
pub unsafe extern "C" fn __pgalloc_tag_add(
    page: *mut bindings::page,
    task: *mut bindings::task_struct,
    order: c_uint,
) {
    // SAFETY: Per the safety requirements.
    unsafe { add_raw(Place::tested(false), page, task, order) }
}

/// [`__pgalloc_tag_add`] in compressed mode: the reference goes in
/// `page->flags`.
///
/// # Safety
///
/// As for [`__pgalloc_tag_add`], but compressed mode is on.
#[no_mangle]
pub unsafe extern "C" fn __pgalloc_tag_add_flags(
    page: *mut bindings::page,
    task: *mut bindings::task_struct,
    order: c_uint,
) {
    // SAFETY: Per the safety requirements.
    unsafe { add_raw(Place::tested(true), page, task, order) }
}

/// # Safety
///
/// As for [`__pgalloc_tag_add`], references living at `place`.
#[inline(always)]
unsafe fn add_raw(
    place: Place,
    page: *mut bindings::page,
    task: *mut bindings::task_struct,
    order: c_uint,
) {
    // SAFETY: The allocator owns the page's reference. `task` is live; its
    // tag, if any, is a tag of a call site running in it, which outlives
    // the call, and stays while pages are accounted to it. Profiling is
    // enabled.
    let (en, page, tag) = unsafe {
        let tag = (*task).alloc_tag;
        (
            Enabled::new(),
            TaggedPage::from_raw(page),
            (!tag.is_null()).then(|| Tag::from_raw(tag)),
        )
    };
    add(en, place, page, tag, order);
}

#[inline(always)]
fn add(en: Enabled, place: Place, page: &TaggedPage, tag: Option<&Tag>, order: c_uint) {
    let Some(tag) = tag else {
        if DEBUG {
            add_untagged(en, page);
        }
        return;
    };
    let account = move |h: &Handle<'_>| {
        // "Empty" is no tag: a free page may have been marked so by
        // pgtag_page_ext_ready().
        if DEBUG && !matches!(h.read(), PageRef::None | PageRef::Empty) {
            report_once("was not cleared before the page was allocated");
        }
        // Not a plain OR into the field even though the page is being
        // allocated: a page freed while profiling was switched off keeps
        // its index, and OR-ing another one into it would make an index of
        // neither (maybe of module tags whose memory is gone).
        if h.update(PageRef::Tag(tag)) {
            // No overflow: the order is at most `MAX_PAGE_ORDER`.
            tag.add_call((PAGE_SIZE as u64).wrapping_shl(order));
        }
        true
    };
    let had_page_ext = with_place(en, place, page, false, account);
    if DEBUG && !had_page_ext {
        EARLY.record(page);
    }
}

/// Debugging: a page allocated with no tag to account it to (no
/// `alloc_hooks()` around the call) is reported.
#[cold]
fn add_untagged(en: Enabled, page: &TaggedPage) {
    let had_page_ext = with_handle(en, page, false, |h| {
        if !matches!(h.read(), PageRef::None | PageRef::Empty) {
            report_once("was not cleared before the page was allocated");
        }
        report_once("not set: current->alloc_tag is NULL");
        true
    });
    if !had_page_ext {
        EARLY.record(page);
    }
}

/// `pgalloc_tag_sub()`: unaccounts the `2^order` pages from `page` on, in
/// page_ext mode.
///
/// # Safety
///
/// `page` is a page being freed, of order at most `MAX_PAGE_ORDER`;
/// profiling is enabled and compressed mode is off.
#[no_mangle]
pub unsafe extern "C" fn __pgalloc_tag_sub(page: *mut bindings::page, order: c_uint) {
    // SAFETY: Per the safety requirements.
    unsafe { sub_raw(Place::tested(false), page, order) }
}

/// [`__pgalloc_tag_sub`] in compressed mode.
///
/// # Safety
///
/// As for [`__pgalloc_tag_sub`], but compressed mode is on.
#[no_mangle]
pub unsafe extern "C" fn __pgalloc_tag_sub_flags(page: *mut bindings::page, order: c_uint) {
    // SAFETY: Per the safety requirements.
    unsafe { sub_raw(Place::tested(true), page, order) }
}

/// # Safety
///
/// As for [`__pgalloc_tag_sub`], references living at `place`.
#[inline(always)]
unsafe fn sub_raw(place: Place, page: *mut bindings::page, order: c_uint) {
    // SAFETY: The allocator owns the page's reference; profiling is
    // enabled.
    let (en, page) = unsafe { (Enabled::new(), TaggedPage::from_raw(page)) };
    with_place(en, place, page, (), move |h| match h.take() {
        PageRef::None => {
            if DEBUG {
                report_once("was not set when the page was freed");
            }
        }
        PageRef::Empty => {}
        PageRef::Tag(tag) => {
            // No overflow: the order is at most `MAX_PAGE_ORDER`.
            let bytes = (PAGE_SIZE as u64).wrapping_shl(order);
            tag.sub_call(bytes);
        }
    })
}

/// The tag `page` is accounted to.
#[inline(always)]
fn tag_of(en: Enabled, page: &TaggedPage) -> Option<&'static Tag> {
    with_handle(en, page, None, read_tag)
}

/// The tag a reference names.
#[inline(always)]
fn read_tag(h: &Handle<'_>) -> Option<&'static Tag> {
    match h.read() {
        PageRef::Tag(tag) => Some(tag),
        PageRef::None => {
            if DEBUG {
                report_once("was not set when its tag was looked up");
            }
            None
        }
        PageRef::Empty => None,
    }
}

/// `pgalloc_tag_get_tails()`: the tag `page` is accounted to, or NULL, in
/// page_ext mode.
///
/// # Safety
///
/// `page` is a valid page the caller holds a reference to; profiling is
/// enabled and compressed mode is off.
#[no_mangle]
pub unsafe extern "C" fn __pgalloc_tag_get(page: *mut bindings::page) -> *mut bindings::alloc_tag {
    // SAFETY: Per the safety requirements.
    unsafe { get_raw(Place::tested(false), page) }
}

/// [`__pgalloc_tag_get`] in compressed mode.
///
/// # Safety
///
/// As for [`__pgalloc_tag_get`], but compressed mode is on.
#[no_mangle]
pub unsafe extern "C" fn __pgalloc_tag_get_flags(
    page: *mut bindings::page,
) -> *mut bindings::alloc_tag {
    // SAFETY: Per the safety requirements.
    unsafe { get_raw(Place::tested(true), page) }
}

/// # Safety
///
/// As for [`__pgalloc_tag_get`], references living at `place`.
#[inline(always)]
unsafe fn get_raw(place: Place, page: *mut bindings::page) -> *mut bindings::alloc_tag {
    // SAFETY: The caller's reference keeps the page's tag reference;
    // profiling is enabled.
    let (en, page) = unsafe { (Enabled::new(), TaggedPage::from_raw(page)) };
    with_place(en, place, page, None, read_tag).map_or(ptr::null_mut(), Tag::as_ptr)
}

/// `clear_page_tag_ref()`: marks `page` as not accounted (freeing it then
/// unaccounts nothing).
///
/// # Safety
///
/// `page` is a valid page whose tag reference the caller owns; profiling
/// is enabled.
#[no_mangle]
pub unsafe extern "C" fn __clear_page_tag_ref(page: *mut bindings::page) {
    // SAFETY: Per the safety requirements.
    let (en, page) = unsafe { (Enabled::new(), TaggedPage::from_raw(page)) };
    with_handle(en, page, false, |h| h.update(PageRef::Empty));
}

/// `pgalloc_tag_split()`: after `folio` (of order `old_order`) was split in
/// folios of order `new_order`, each new folio is one more allocation of
/// the original tag (its bytes were counted already).
///
/// # Safety
///
/// `folio` is a folio just split, owned by the caller; profiling is
/// enabled.
#[no_mangle]
pub unsafe extern "C" fn __pgalloc_tag_split(
    folio: *mut bindings::folio,
    old_order: c_int,
    new_order: c_int,
) {
    let Ok(old_order) = u32::try_from(old_order) else {
        return;
    };
    if old_order >= usize::BITS - 1 {
        return;
    }
    // SAFETY: The caller owns the folio, of order `old_order`, just split;
    // profiling is enabled.
    let (en, folio) = unsafe { (Enabled::new(), SplitFolio::from_raw(folio, old_order)) };
    let Some(tag) = tag_of(en, folio.head()) else {
        return;
    };
    let step = 1usize << new_order.clamp(0, old_order as c_int);
    for page in folio.pages_from(step) {
        with_handle(en, page, (), |h| {
            if h.update(PageRef::Tag(tag)) {
                tag.add_call(0);
            }
        });
    }
}

/// `pgalloc_tag_swap()`: migration moved `old`'s data to `new`, so `new`
/// takes over `old`'s tag and `old` (freed next) `new`'s, which it
/// unaccounts. Counters do not change; copying instead would count `new`'s
/// allocation twice or make counters go negative.
///
/// Only when both are accounted, as upstream does: a page without a tag
/// keeps none, and the other keeps its own. `migrate_device.c` moves
/// anonymous memory to device-private and device-coherent pages, which the
/// page allocator never frees: swapping with one would leave `old` to be
/// freed uncounted and its tag's count never given back.
///
/// # Safety
///
/// Both are valid folios owned by the migration code; profiling is
/// enabled.
#[no_mangle]
pub unsafe extern "C" fn __pgalloc_tag_swap(new: *mut bindings::folio, old: *mut bindings::folio) {
    // SAFETY: A folio starts with its head page; the caller owns both.
    // Profiling is enabled.
    let (en, new, old) = unsafe {
        (
            Enabled::new(),
            TaggedPage::from_raw(new.cast()),
            TaggedPage::from_raw(old.cast()),
        )
    };
    with_handle(en, new, (), |hn| {
        with_handle(en, old, (), |ho| {
            if let (PageRef::Tag(tn), PageRef::Tag(to)) = (hn.read(), ho.read()) {
                // Both have indexes (they were read from them), so both
                // updates record.
                hn.update(PageRef::Tag(to));
                ho.update(PageRef::Tag(tn));
            }
        })
    })
}

/// Decides where page tag references live: in `page->flags` when
/// `compressed` and the kernel's tags fit in the free bits (at most
/// `max_bits` of them, a debugging limit), else in page_ext. `false` means
/// compressed mode was asked for and cannot work: the caller disables
/// profiling (the warning says why).
///
/// May be called again (the last call decides).
///
/// # Safety
///
/// Called from early parameters: single-threaded, before any page is
/// accounted, so no index is in use.
#[no_mangle]
#[link_section = ".init.text"]
pub unsafe extern "C" fn pgtag_compressed_setup(compressed: bool, max_bits: c_uint) -> bool {
    const LONG_BITS: u32 = usize::BITS;
    // The gap ends where the lowest of the fields above the flags begins.
    const _: () = assert!(
        bindings::NR_PAGEFLAGS + bindings::NR_UNUSED_PAGEFLAG_BITS == bindings::LRU_REFS_PGOFF
    );
    if !compressed {
        if mem_profiling_compressed.is_enabled() {
            mem_profiling_compressed.disable();
        }
        return true;
    }
    let map = IndexMap {
        kernel_tags: kernel_tags_bytes() / TAG_SIZE,
        module_tags: 0,
    };
    let needed = map.indexes().map_or(LONG_BITS, bits_for);
    let free = bindings::NR_UNUSED_PAGEFLAG_BITS;
    // No index larger than a tag can keep.
    let usable = free.min(max_bits).min(bits_for(Tag::MAX_PAGE_INDEX + 1));
    let field = FlagsField::place(
        usable,
        LONG_BITS,
        bindings::NR_PAGEFLAGS,
        LONG_BITS - bindings::LRU_REFS_PGOFF,
    );
    match field {
        Ok(field) if needed <= usable => {
            // SAFETY: No index is in use yet (the safety requirements).
            unsafe {
                LAYOUT.set_field(field.bits(), field.shift());
                LAYOUT.set_kernel_tags(kernel_tags_start(), map.kernel_tags);
                // The kernel's tags are valid, and nothing counts with them
                // this early.
                LAYOUT.give_indexes(kernel_tags_start(), kernel_tags_bytes());
            }
            if !mem_profiling_compressed.is_enabled() {
                mem_profiling_compressed.enable();
            }
            true
        }
        _ => {
            let limit = if usable < free {
                " (limited by alloc_tag.compressed_bits)"
            } else {
                ""
            };
            pr_warn!(
                "compressed: the kernel's {} allocation tags need {} bits of page->flags, {} are free{}; memory allocation profiling is disabled\n",
                map.kernel_tags,
                needed,
                usable,
                limit
            );
            if mem_profiling_compressed.is_enabled() {
                mem_profiling_compressed.disable();
            }
            false
        }
    }
}

/// The bytes of module tags that `page->flags` has indexes for, after the
/// kernel's tags (`usize::MAX` outside compressed mode): the module tag
/// area is made no larger, so that every tag it can hold has an index.
#[no_mangle]
pub extern "C" fn pgtag_module_room() -> usize {
    if mem_profiling_compressed.is_enabled() {
        LAYOUT.module_room()
    } else {
        usize::MAX
    }
}

/// Tells where the module tag area is: its tags have the indexes after the
/// kernel's, in address order.
///
/// # Safety
///
/// Called once, before any module is loaded: no index of a module tag is
/// in use, and kernel tags keep theirs.
#[no_mangle]
pub unsafe extern "C" fn pgtag_set_module_area(start: usize, size: usize) {
    // SAFETY: Per the safety requirements, no index it changes is in use.
    unsafe { LAYOUT.set_module_area(start, size) };
    if mem_profiling_compressed.is_enabled() {
        pr_info!(
            "compressed: tag references in {} bits of page->flags; {} kernel tags, room for {} module tags, indexes up to {}\n",
            bits_for(LAYOUT.max_index() + 1),
            LAYOUT.kernel_tags(),
            size / TAG_SIZE,
            LAYOUT.max_index()
        );
    }
}

/// Whether the tags of module `name`, at `start..start + size` of the
/// module tag area, can be referred to from `page->flags`: always outside
/// compressed mode; else they must sit at whole-tag offsets and their
/// indexes fit the field, and then each tag keeps its index from now on
/// (`Tag::set_page_index`). On `false` (with a warning naming the module)
/// the caller disables profiling and loads the module anyway.
///
/// # Safety
///
/// `name` is a NUL-terminated string; `start..start + size` holds the
/// module's allocation tags, which do not count yet (its code has not run),
/// with the tag type's lock held for writing.
#[no_mangle]
pub unsafe extern "C" fn pgtag_module_tags_fit(
    name: *const c_char,
    start: usize,
    size: usize,
) -> bool {
    if !mem_profiling_compressed.is_enabled() || size == 0 {
        return true;
    }
    // SAFETY: Per the safety requirements.
    let name = unsafe { CStr::from_char_ptr(name) };
    let off = start.wrapping_sub(LAYOUT.module_base());
    if off % TAG_SIZE != 0 || size % TAG_SIZE != 0 {
        pr_warn!(
            "compressed: module {}: its tags are not at whole-tag offsets of the module tag area ({} bytes from its start, {} bytes); memory allocation profiling is disabled\n",
            name,
            off,
            size
        );
        return false;
    }
    let last = LAYOUT.module_index(start + size - TAG_SIZE);
    let max = LAYOUT.max_index();
    if last > max {
        pr_warn!(
            "compressed: with module {} there are too many tags to fit in {} page flag bits (index {} > {}); memory allocation profiling is disabled\n",
            name,
            bits_for(max + 1),
            last,
            max
        );
        return false;
    }
    // SAFETY: Per the safety requirements the module's tags are there and
    // do not count yet.
    unsafe { LAYOUT.give_indexes(start, size) };
    true
}
