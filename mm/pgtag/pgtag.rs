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
//! [`Handle`] (C's `pgtag_ref_handle` in the upstream design) hides which:
//! every path (add, sub, get, clear, split, the migration swap) gets a
//! handle from [`with_handle`], reads, updates, sets or takes the reference,
//! and drops the handle. C calls these paths only while profiling is
//! enabled: the static key test stays inline in `include/linux/pgalloc_tag.h`.
//!
//! The allocator's paths (add, sub, get) are built for instruction count:
//! in compressed mode each is one function without a stack frame; an index
//! is set with one compare-and-exchange (loop) and cleared with one atomic
//! AND (`scripts/trace` shows where each instruction goes).
//!
//! Setup comes from `lib/alloc_tag_rs/` (the boot parameter and the module
//! tag area) through [`pgtag_compressed_setup`], [`pgtag_set_module_area`]
//! and [`pgtag_module_tags_fit`].

use core::{
    ffi::{c_int, c_uint},
    mem::size_of,
    ptr,
    sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering::Relaxed},
};
use kernel::{
    alloc_tag::{
        pgtag::{FlagsWord, PageTagLayout, EMPTY_INDEX, NO_INDEX},
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

/// A page's tag reference, whichever way it is stored.
#[derive(Clone, Copy)]
enum Ref<'a> {
    /// The page is not accounted.
    None,
    /// Not accounted, and freeing it must not warn (debugging only;
    /// without it this is [`Ref::None`]).
    Empty,
    /// Accounted to this tag.
    Tag(&'a Tag),
}

/// Access to one page's tag reference while it is held: C's
/// `pgtag_ref_handle`. [`with_handle`] gives one.
///
/// # Invariants
///
/// `Ext` holds a reference from `page_ext_get()` (put on drop) whose slot
/// is at `page_alloc_tagging_ops.offset`; `Flags` is the `flags` word of a
/// valid page. The caller of [`with_handle`] owns the page's reference for
/// the handle's life (it allocates or frees the page, or splits or migrates
/// it), so nothing else writes the reference meanwhile; other flag bits may
/// change at any time.
enum Handle<'a> {
    Ext(ptr::NonNull<bindings::page_ext>),
    Flags(&'a FlagsWord),
}

/// Runs `f` on the handle of `page`'s reference, or gives `none` if the
/// page has no page_ext (yet).
///
/// The `page->flags` path is inlined into the caller and calls nothing, so
/// it needs no stack frame; the page_ext path, which calls into page_ext,
/// is a function of its own.
///
/// # Safety
///
/// `page` is a valid page whose tag reference the caller owns meanwhile.
#[inline(always)]
unsafe fn with_handle<R>(
    page: *mut bindings::page,
    none: R,
    f: impl FnOnce(&Handle<'_>) -> R,
) -> R {
    if mem_profiling_compressed.is_enabled() {
        // SAFETY: `page` is valid meanwhile; others change `flags` only
        // with atomic operations (a plain write needs the page, which the
        // caller owns).
        let flags = unsafe { FlagsWord::from_ptr(ptr::addr_of_mut!((*page).flags).cast()) };
        f(&Handle::Flags(flags))
    } else {
        // SAFETY: Per the safety requirements.
        unsafe { with_page_ext(page, none, f) }
    }
}

/// [`with_handle`] in page_ext mode.
///
/// # Safety
///
/// As for [`with_handle`].
#[inline(never)]
unsafe fn with_page_ext<R>(
    page: *mut bindings::page,
    none: R,
    f: impl FnOnce(&Handle<'_>) -> R,
) -> R {
    // SAFETY: `page` is a valid page.
    let ext = unsafe { bindings::page_ext_get(page) };
    match ptr::NonNull::new(ext) {
        // INVARIANT: A page_ext reference, put when the handle drops.
        Some(ext) => f(&Handle::Ext(ext)),
        None => none,
    }
}

impl Handle<'_> {
    /// The `union codetag_ref` in page_ext: one `struct codetag *`.
    fn slot(ext: ptr::NonNull<bindings::page_ext>) -> *mut *mut bindings::codetag {
        // SAFETY: page_ext set the offset at boot, before any page_ext
        // existed; it is read-only since.
        let offset = unsafe { (*ptr::addr_of!(bindings::page_alloc_tagging_ops)).offset };
        ext.as_ptr().cast::<u8>().wrapping_add(offset).cast()
    }

    /// What a `page->flags` index stands for.
    #[inline]
    fn index_ref(index: usize) -> Ref<'static> {
        match index {
            NO_INDEX => Ref::None,
            EMPTY_INDEX if DEBUG => Ref::Empty,
            // Without debugging no marker is stored: `tag_of` checks.
            i => match LAYOUT.tag_of(i) {
                // SAFETY: Only indexes of tags are stored, and a tag with a
                // page accounted to it stays (module tags are kept until
                // their counters are zero).
                Some(tag) => Ref::Tag(unsafe { Tag::from_raw(tag) }),
                None => {
                    if DEBUG {
                        report_once("holds an index past the tags");
                    }
                    Ref::None
                }
            },
        }
    }

    /// What a page_ext slot holds.
    #[inline]
    fn slot_ref(ct: *mut bindings::codetag) -> Ref<'static> {
        match ct as usize {
            0 => Ref::None,
            EMPTY_INDEX if DEBUG => Ref::Empty,
            // SAFETY: As above; `ct` is the first field of its allocation
            // tag.
            _ => Ref::Tag(unsafe { Tag::from_raw(ct.cast()) }),
        }
    }

    #[inline]
    fn read(&self) -> Ref<'static> {
        match self {
            Handle::Flags(flags) => Self::index_ref(LAYOUT.load(flags)),
            // SAFETY: By the type invariant the slot is valid and ours.
            Handle::Ext(ext) => Self::slot_ref(unsafe { *Self::slot(*ext) }),
        }
    }

    /// Records `r`; `false` (nothing recorded) if a tag has no index.
    #[inline]
    fn update(&self, r: Ref<'_>) -> bool {
        match self {
            Handle::Flags(flags) => {
                let index = match r {
                    Ref::None => NO_INDEX,
                    Ref::Empty if DEBUG => EMPTY_INDEX,
                    Ref::Empty => NO_INDEX,
                    Ref::Tag(t) => match LAYOUT.index_of(t.as_ptr()) {
                        Some(i) => i,
                        None => return false,
                    },
                };
                // Other bits of the word change under us (page flags set
                // atomically by others): the store replaces only the field.
                LAYOUT.store(flags, index);
            }
            Handle::Ext(ext) => {
                let ct = match r {
                    Ref::None => ptr::null_mut(),
                    Ref::Empty if DEBUG => EMPTY_INDEX as *mut bindings::codetag,
                    Ref::Empty => ptr::null_mut(),
                    Ref::Tag(t) => t.as_ptr().cast(),
                };
                // SAFETY: By the type invariant the slot is valid and ours.
                unsafe { *Self::slot(*ext) = ct };
            }
        }
        true
    }

    /// Takes the reference away (a page being freed): what it was, and
    /// [`Ref::None`] left behind.
    #[inline]
    fn take(&self) -> Ref<'static> {
        match self {
            Handle::Flags(flags) => Self::index_ref(LAYOUT.take(flags)),
            Handle::Ext(ext) => {
                let slot = Self::slot(*ext);
                // SAFETY: By the type invariant the slot is valid and ours.
                Self::slot_ref(unsafe { slot.replace(ptr::null_mut()) })
            }
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

/// Reports a broken pairing of set and clear once (debugging only).
#[cold]
fn report_once(what: &str) {
    static REPORTED: AtomicBool = AtomicBool::new(false);
    if !REPORTED.swap(true, Relaxed) {
        pr_err!("page tag reference {}\n", what);
        // SAFETY: No requirements.
        unsafe { bindings::dump_stack() };
    }
}

/// Debugging, page_ext mode: pages allocated before their page_ext existed
/// (page_ext comes late in boot, in `page_ext_init()`) have no reference,
/// and freeing one later would report. They are remembered here, in a
/// table of bounded size as upstream's fix has it, and marked "empty" once
/// page_ext exists ([`pgtag_page_ext_ready`]). Without debugging the table
/// has no room and nothing is recorded.
mod early {
    use super::*;

    const ROOM: usize = if DEBUG { 8192 } else { 0 };
    static PAGES: [AtomicPtr<bindings::page>; ROOM] =
        [const { AtomicPtr::new(ptr::null_mut()) }; ROOM];
    /// How many were seen, recorded or not.
    static SEEN: AtomicUsize = AtomicUsize::new(0);

    /// Remembers `page`, allocated while it had no page_ext.
    #[cold]
    pub(super) fn record(page: *mut bindings::page) {
        if let Some(slot) = PAGES.get(SEEN.fetch_add(1, Relaxed)) {
            slot.store(page, Relaxed);
        }
    }

    /// The pages recorded, and how many more were seen.
    pub(super) fn pages() -> (impl Iterator<Item = *mut bindings::page>, usize) {
        let seen = SEEN.load(Relaxed);
        let recorded = PAGES.iter().take(seen).map(|p| p.load(Relaxed));
        (recorded.filter(|p| !p.is_null()), seen.saturating_sub(ROOM))
    }
}

/// Marks a page_ext slot "empty" if it holds no reference; whether it did.
fn mark_empty(h: &Handle<'_>) -> bool {
    let Handle::Ext(ext) = h else {
        return false;
    };
    // SAFETY: The slot is valid (the handle's invariant) and aligned for a
    // pointer; others write it with single stores of the whole pointer.
    let slot = unsafe { AtomicPtr::from_ptr(Handle::slot(*ext)) };
    let empty = EMPTY_INDEX as *mut bindings::codetag;
    slot.compare_exchange(ptr::null_mut(), empty, Relaxed, Relaxed)
        .is_ok()
}

/// `page_alloc_tagging_ops.init`, once every page has its page_ext: the
/// pages allocated before are marked "empty" (debugging only), unless they
/// were freed and allocated again meanwhile.
#[no_mangle]
pub extern "C" fn pgtag_page_ext_ready() {
    if !DEBUG {
        return;
    }
    let (pages, lost) = early::pages();
    let mut marked = 0usize;
    for page in pages {
        // SAFETY: `page` is a page of the memory map, which stays; its
        // page_ext exists now. The page may be freed or allocated
        // meanwhile: the slot changes from "none" to "empty" only, in one
        // atomic step, so a reference an allocation sets is never lost.
        marked += unsafe { with_page_ext(page, false, mark_empty) } as usize;
    }
    if lost == 0 {
        pr_info!(
            "{} pages allocated before page_ext existed marked as not accounted\n",
            marked
        );
    } else {
        pr_warn!(
            "{} pages allocated before page_ext existed marked as not accounted, {} more not recorded: freeing one will report\n",
            marked,
            lost
        );
    }
}

/// `pgalloc_tag_add()`: accounts the `2^order` pages from `page` on to
/// `task`'s tag.
///
/// # Safety
///
/// `page` is a page being allocated, of order at most `MAX_PAGE_ORDER`,
/// and `task` a live task (C passes
/// `current`).
#[no_mangle]
pub unsafe extern "C" fn __pgalloc_tag_add(
    page: *mut bindings::page,
    task: *mut bindings::task_struct,
    order: c_uint,
) {
    // SAFETY: `task` is live; its tag, if any, is a tag of a call site
    // running in it, which outlives the call.
    let tag = unsafe { (*task).alloc_tag };
    if tag.is_null() && !DEBUG {
        return;
    }
    let account = move |h: &Handle<'_>| {
        if DEBUG {
            // "Empty" is no tag: a free page may have been marked so by
            // pgtag_page_ext_ready().
            if !matches!(h.read(), Ref::None | Ref::Empty) {
                report_once("was not cleared before the page was allocated");
            }
            if tag.is_null() {
                report_once("not set: current->alloc_tag is NULL");
                return true;
            }
        }
        // SAFETY: As above.
        let tag = unsafe { Tag::from_raw(tag) };
        // Not a plain OR into the field even though the page is being
        // allocated: a page freed while profiling was switched off keeps
        // its index, and OR-ing another one into it would make an index of
        // neither (maybe of module tags whose memory is gone).
        if h.update(Ref::Tag(tag)) {
            // No overflow: the order is at most `MAX_PAGE_ORDER`.
            tag.count((PAGE_SIZE as u64).wrapping_shl(order), 1);
        }
        true
    };
    // SAFETY: The allocator owns the page's reference.
    let had_page_ext = unsafe { with_handle(page, false, account) };
    if DEBUG && !had_page_ext {
        early::record(page);
    }
}

/// `pgalloc_tag_sub()`: unaccounts the `2^order` pages from `page` on.
///
/// # Safety
///
/// `page` is a page being freed, of order at most `MAX_PAGE_ORDER`.
#[no_mangle]
pub unsafe extern "C" fn __pgalloc_tag_sub(page: *mut bindings::page, order: c_uint) {
    // SAFETY: The allocator owns the page's reference.
    unsafe {
        with_handle(page, (), move |h| match h.take() {
            Ref::None => {
                if DEBUG {
                    report_once("was not set when the page was freed");
                }
            }
            Ref::Empty => {}
            Ref::Tag(tag) => {
                // No overflow: the order is at most `MAX_PAGE_ORDER`.
                let bytes = (PAGE_SIZE as u64).wrapping_shl(order);
                tag.count(bytes.wrapping_neg(), 1u64.wrapping_neg());
            }
        })
    }
}

/// `pgalloc_tag_get_tails()`: the tag `page` is accounted to, or NULL.
///
/// # Safety
///
/// `page` is a valid page the caller holds a reference to.
#[no_mangle]
pub unsafe extern "C" fn __pgalloc_tag_get(page: *mut bindings::page) -> *mut bindings::alloc_tag {
    // SAFETY: The caller's reference keeps the page's tag reference.
    unsafe {
        with_handle(page, ptr::null_mut(), |h| match h.read() {
            Ref::Tag(tag) => tag.as_ptr(),
            Ref::None => {
                if DEBUG {
                    report_once("was not set when its tag was looked up");
                }
                ptr::null_mut()
            }
            Ref::Empty => ptr::null_mut(),
        })
    }
}

/// `clear_page_tag_ref()`: marks `page` as not accounted (freeing it then
/// unaccounts nothing).
///
/// # Safety
///
/// `page` is a valid page whose tag reference the caller owns.
#[no_mangle]
pub unsafe extern "C" fn __clear_page_tag_ref(page: *mut bindings::page) {
    // SAFETY: Per the safety requirements.
    unsafe { with_handle(page, false, |h| h.update(Ref::Empty)) };
}

/// `pgalloc_tag_split()`: after `folio` (of order `old_order`) was split in
/// folios of order `new_order`, each new folio is one more allocation of
/// the original tag (its bytes were counted already).
///
/// # Safety
///
/// `folio` is a folio just split, owned by the caller.
#[no_mangle]
pub unsafe extern "C" fn __pgalloc_tag_split(
    folio: *mut bindings::folio,
    old_order: c_int,
    new_order: c_int,
) {
    // A folio starts with its head page.
    let head = folio.cast::<bindings::page>();
    // SAFETY: The caller owns the folio.
    let tag = unsafe { __pgalloc_tag_get(head) };
    if tag.is_null() || !(0..c_int::BITS as c_int - 1).contains(&old_order) {
        return;
    }
    // SAFETY: A tag with pages accounted to it stays.
    let tag = unsafe { Tag::from_raw(tag) };
    let step = 1usize << new_order.clamp(0, old_order);
    for i in (step..1usize << old_order).step_by(step) {
        // SAFETY: `i` is a page of the old folio, owned by the caller.
        unsafe {
            with_handle(bindings::folio_page(folio, i as _), (), |h| {
                if h.update(Ref::Tag(tag)) {
                    tag.count(0, 1);
                }
            })
        };
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
/// Both are valid folios owned by the migration code.
#[no_mangle]
pub unsafe extern "C" fn __pgalloc_tag_swap(new: *mut bindings::folio, old: *mut bindings::folio) {
    let (new, old) = (new.cast::<bindings::page>(), old.cast::<bindings::page>());
    // SAFETY: A folio starts with its head page; the caller owns both.
    unsafe {
        with_handle(new, (), |hn| {
            with_handle(old, (), |ho| {
                if let (Ref::Tag(tn), Ref::Tag(to)) = (hn.read(), ho.read()) {
                    // Both have indexes (they were read from them), so both
                    // updates record.
                    hn.update(Ref::Tag(to));
                    ho.update(Ref::Tag(tn));
                }
            })
        })
    }
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
    let usable = free.min(max_bits);
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
/// indexes fit the field. On `false` (with a warning naming the module) the
/// caller disables profiling and loads the module anyway.
///
/// # Safety
///
/// `name` is a NUL-terminated string.
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
    true
}
