// SPDX-License-Identifier: GPL-2.0

//! The module tag area: every module's allocation tags in one place.
//!
//! The module loader does not put a module's `alloc_tags` section (the
//! `.codetag.alloc_tags` output section of `scripts/module.lds.S`) in module
//! memory: it asks for a range of this area, reserved at boot as address
//! space in reach of module code and backed by pages as the used end grows.
//! So tags can outlive their module:
//!
//! - At unload, a module whose tags still count live allocations keeps its
//!   range, marked unloaded; its tags get copies of their strings (the
//!   module's own go with its memory) and `/proc/allocinfo` keeps showing
//!   them. Keeping needs no memory: if the copies cannot be had, the tags
//!   keep their counts with placeholder names ([`UNKNOWN`]).
//! - Kept ranges whose counters all reached zero are reclaimed at the next
//!   module load, before its range is chosen: so space runs short only when
//!   live tags fill it.
//! - Module tags get per-CPU counters of their own when the module is
//!   listed, before any of its code can run, and keep them with the range
//!   (a module's own per-CPU area goes at unload).
//!
//! A module's range is reserved, and backed, when the loader lays the module
//! out (`needs_section_mem`), with the section's own size and alignment: so
//! what was found to fit is what the module gets. Whether profiling must
//! stop because a module's tags did not fit (or, in compressed mode, cannot
//! be indexed) is decided when the module is listed, just before its code
//! can first run: a load that fails before that point changes nothing.
//!
//! Locks: the allocation tag type's lock (for writing) is taken before the
//! area's, never the other way round.
//!
//! Failures, and what they cost:
//! - No area at boot (`alloc_tag.module_tags=0`, no address space, or KASAN
//!   without `KASAN_VMALLOC`): profiling is shut down and `/proc/allocinfo`
//!   removed. Module tags could only live in module memory, which cannot
//!   outlive the module; counting without them would be silently wrong.
//! - The area is full (after reclaiming): profiling is shut down, the file
//!   stays frozen, and the module loads with its tags in its own memory. A
//!   debugging aid must not stop a driver from loading.
//! - No page for the range, or a section alignment above `PAGE_SIZE` (the
//!   area's own alignment): this module's load fails (`ENOMEM`, `EINVAL`).
//!   Both concern this module only; profiling goes on for the rest.

use crate::{alloc_tag_type, shutdown_mem_profiling, PROFILING_SUPPORT};
use core::{
    cell::RefCell,
    ffi::{c_int, c_void},
    mem::size_of,
    ptr,
    sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering},
};
use kernel::{
    alloc::{flags::GFP_KERNEL, KBox},
    alloc_tag::{
        area::{Area, AreaGuard, VmArea},
        codetag::{KModule, Listing, Unlisting, Writer},
        pgtag,
        published::Published,
        seq_file::{SeqFile, SingleFile, SingleShow},
    },
    bindings, c_str,
    ffi::c_ulong,
    fmt,
    page::PAGE_SIZE,
    prelude::*,
    str::{CStr, CString},
};

/// Capacity of the area in tags (`alloc_tag.module_tags=`).
pub(crate) static MODULE_TAGS: AtomicUsize = AtomicUsize::new(100_000);

const TAG_SIZE: usize = size_of::<bindings::alloc_tag>();

/// The area, set once at init; NULL if there is none.
static AREA: Published<Area<ModRange>> = Published::new();

fn area() -> Option<&'static Area<ModRange>> {
    AREA.get()
}

/// Room for a module name kept for messages: C's `MODULE_NAME_LEN` is
/// `64 - sizeof(long)`, a macro bindgen cannot evaluate.
const NAME_LEN: usize = 64;

/// The name and file of the tags of an unloaded module whose strings could
/// not be copied (no memory at unload): their counts stay right, and their
/// rows show the line and the module.
const UNKNOWN: &CStr = c_str!("(unknown)");

/// One module's range of the area.
///
/// A range is live (`module` is set: the module is being loaded or is
/// loaded), kept (the module is gone, its tags stay until their counters
/// are zero) or dead (the module is gone and so are its tags' counters, but
/// the range could not be erased: reclaimed as soon as possible).
///
/// The tags themselves, and the copies of their strings once kept, belong
/// to the allocation tag type's entry for the module (`codetag::Module`);
/// the range only says whose they are.
///
/// # Invariants
///
/// `module` and `kept` change only with the area locked. `name` is
/// NUL-terminated.
struct ModRange {
    /// The module, NULL once it was unloaded.
    module: AtomicPtr<bindings::module>,
    /// Whether the range's tags stay after their module, counting.
    kept: AtomicBool,
    /// The module's name, NUL-padded, for messages.
    name: [u8; NAME_LEN],
}

impl ModRange {
    fn new(module: &KModule) -> Self {
        let mut name = [0u8; NAME_LEN];
        // INVARIANT: At most `NAME_LEN - 1` bytes: the last stays NUL.
        for (d, &s) in name
            .iter_mut()
            .zip(module.name().as_bytes().iter().take(NAME_LEN - 1))
        {
            *d = s;
        }
        Self {
            module: AtomicPtr::new(module.as_ptr()),
            kept: AtomicBool::new(false),
            name,
        }
    }

    fn name(&self) -> &CStr {
        // By the type invariant there is a NUL.
        let nul = self.name.iter().position(|&b| b == 0);
        nul.and_then(|n| self.name.get(..=n))
            .and_then(|b| CStr::from_bytes_with_nul(b).ok())
            .unwrap_or(UNKNOWN)
    }

    fn is_of(&self, module: *mut bindings::module) -> bool {
        self.module.load(Ordering::Relaxed) == module
    }

    fn is_live(&self) -> bool {
        !self.module.load(Ordering::Relaxed).is_null()
    }

    fn is_kept(&self) -> bool {
        !self.is_live() && self.kept.load(Ordering::Relaxed)
    }
}

/// Frees dead ranges and the kept ranges whose tags no longer count
/// anything (the type forgets them first, with their counters: see
/// `Writer::forget_unloaded` for why a zero sum is final).
fn reclaim(w: &mut Writer<'_>, a: &mut AreaGuard<'_, ModRange>) {
    // Both callbacks ask the type, one after the other.
    let w = RefCell::new(w);
    a.reclaim(
        |start, _, r| {
            !r.is_live() && (!r.is_kept() || w.borrow_mut().unloaded_idle(start as *const u8))
        },
        |start, _, r| {
            // Still mapped: the type unlists the tags before they go.
            if r.is_kept() && w.borrow_mut().forget_unloaded(start as *const u8) {
                pr_info!("reclaimed the tags of unloaded module {}\n", r.name());
            }
        },
    );
}

/// The alignment module tags ask for (`__aligned(8)` in `alloc_tag.h`);
/// tags of that size and alignment sit at whole-tag offsets of the area,
/// which compressed mode needs.
const TAG_ALIGN: usize = 8;
const _: () = assert!(TAG_SIZE % TAG_ALIGN == 0);

/// `codetag_type_desc.needs_section_mem`, when the loader lays the module
/// out: reserves and backs the module's range, so that the room found is
/// the room it gets. `false` (the section stays in module memory) if there
/// is no area or profiling is off for good, or if there is no room after
/// reclaiming; then [`alloc_tag_module_load`] shuts profiling down, if the
/// module gets that far. An alignment the area cannot give, or no memory
/// for the range, is for [`alloc_section_mem`] to report.
///
/// # Safety
///
/// `module` is a valid module being loaded (the module loader calls this
/// through the codetag core).
pub(crate) unsafe extern "C" fn needs_section_mem(
    module: *mut bindings::module,
    size: c_ulong,
    align: c_ulong,
) -> bool {
    if size < TAG_SIZE || !PROFILING_SUPPORT.load(Ordering::Relaxed) {
        return false;
    }
    let (Some(area), Some(ty)) = (area(), alloc_tag_type()) else {
        return false;
    };
    let align = align.max(TAG_ALIGN);
    if align > PAGE_SIZE || !align.is_power_of_two() {
        return true;
    }
    // SAFETY: A valid module being loaded, per the safety requirements.
    let module = unsafe { KModule::from_raw(module) };
    let mut w = ty.write();
    let mut a = area.lock();
    reclaim(&mut w, &mut a);
    !matches!(a.alloc(size, align, ModRange::new(module)), Err(EBUSY))
}

fn err_ptr(e: Error) -> *mut c_void {
    e.to_errno() as isize as *mut c_void
}

/// `codetag_type_desc.alloc_section_mem`, when the loader copies the module:
/// the range reserved at layout, or a new one if that reservation could not
/// be made for lack of memory.
///
/// # Safety
///
/// `module` is a valid module being loaded (the module loader calls this
/// through the codetag core).
pub(crate) unsafe extern "C" fn alloc_section_mem(
    module: *mut bindings::module,
    size: c_ulong,
    align: c_ulong,
) -> *mut c_void {
    // SAFETY: A valid module being loaded, per the safety requirements.
    let module = unsafe { KModule::from_raw(module) };
    let align = align.max(TAG_ALIGN);
    let Some(area) = area() else {
        return err_ptr(EINVAL);
    };
    if align > PAGE_SIZE || !align.is_power_of_two() {
        pr_err!(
            "module {}: alloc_tags section alignment {} is larger than the module tag area supports ({})\n",
            module,
            align,
            PAGE_SIZE
        );
        return err_ptr(EINVAL);
    }
    let mut a = area.lock();
    let reserved = a
        .iter_rev()
        .find(|(_, _, r)| r.is_of(module.as_ptr()))
        .map(|(start, len, _)| (start, len));
    if let Some((start, len)) = reserved {
        if len == size && start % align == 0 {
            return start as *mut c_void;
        }
        // Not what the section asks for now: give it back, try afresh.
        if a.release(start).is_err() {
            return err_ptr(ENOMEM);
        }
    }
    match a.alloc(size, align, ModRange::new(module)) {
        Ok(addr) => addr as *mut c_void,
        Err(e) => {
            pr_err!(
                "module {}: cannot allocate memory for its tags ({} bytes): {:?}\n",
                module,
                size,
                e
            );
            err_ptr(if e == EBUSY { ENOSPC } else { e })
        }
    }
}

/// `codetag_type_desc.free_section_mem`: frees the module's range unless its
/// tags are kept (the unload callback then already marked it unloaded). A
/// range that cannot be erased (no memory for the maple tree) is marked dead
/// and goes at the next reclaim: it no longer belongs to the module, so a
/// later module at the same address cannot be taken for it.
///
/// # Safety
///
/// `module` is a valid module being unloaded or whose load failed.
pub(crate) unsafe extern "C" fn free_section_mem(module: *mut bindings::module, _used: bool) {
    let Some(area) = area() else {
        return;
    };
    let mut a = area.lock();
    let found = a
        .iter_rev()
        .find(|(_, _, r)| r.is_of(module))
        .map(|(start, _, _)| start);
    if let Some(start) = found {
        if a.release(start).is_err() {
            if let Some(r) = a.get(start) {
                r.module.store(ptr::null_mut(), Ordering::Relaxed);
            }
        }
    }
}

/// `codetag_type_desc.module_replaced`: `struct module` moved.
///
/// # Safety
///
/// Both are the same valid module being loaded, before and after the move.
pub(crate) unsafe extern "C" fn module_replaced(
    module: *mut bindings::module,
    new_module: *mut bindings::module,
) {
    let Some(area) = area() else {
        return;
    };
    let a = area.lock();
    let found = a.iter_rev().find(|(_, _, r)| r.is_of(module));
    if let Some((_, _, r)) = found {
        r.module.store(new_module, Ordering::Relaxed);
    }
}

/// `codetag_type_desc.module_load`, just before the module's code can
/// first run: shuts profiling down if the module's tags did not fit in the
/// area (or cannot be indexed in page->flags), then gives every tag
/// counters of its own.
///
/// # Safety
///
/// Called by the codetag core with the allocation tag type and one of its
/// module entries, the type's lock held for writing.
pub(crate) unsafe extern "C" fn alloc_tag_module_load(
    cttype: *mut bindings::codetag_type,
    cmod: *mut bindings::codetag_module,
) -> c_int {
    // SAFETY: Per the safety requirements.
    let listing = unsafe { Listing::from_raw(cttype, cmod) };
    // Module entries are listed for modules, the kernel's at boot.
    let Some(module) = listing.entry().kmodule() else {
        return 0;
    };
    let (start, size) = (
        listing.entry().start() as usize,
        listing.section_len() * TAG_SIZE,
    );
    if let Some(area) = area() {
        let full = {
            let a = area.lock();
            (!a.contains(start)).then(|| (a.used(), a.capacity()))
        };
        match full {
            // Tags in module memory cannot outlive the module: profiling
            // stops before its code runs, and the module loads.
            Some((used, capacity)) if PROFILING_SUPPORT.load(Ordering::Relaxed) => {
                pr_warn!(
                    "module {}: no room for {} bytes of tags in the module tag area ({} of {} bytes used); disabling memory allocation profiling\n",
                    module,
                    size,
                    used,
                    capacity
                );
                shutdown_mem_profiling(false);
            }
            Some(_) => {}
            // Compressed mode, and the tags would have indexes past what
            // page->flags holds (mm/pgtag/ warned): profiling stops.
            // SAFETY: The module's tags are at `start`, its code has not
            // run, and the write lock is held (the safety requirements).
            None if !unsafe { pgtag::module_tags_fit(module, start, size) } => {
                shutdown_mem_profiling(false);
            }
            None => {}
        }
    }
    if let Err(e) = listing.alloc_counters() {
        pr_err!(
            "module {}: cannot allocate the counters of its allocation tags\n",
            module
        );
        return e.to_errno();
    }
    0
}

/// `codetag_type_desc.module_unload`: reports each tag still in use and
/// keeps the tags if there is one (returns whether there was none); the
/// type frees the counters of tags it does not keep.
///
/// # Safety
///
/// As for [`alloc_tag_module_load`].
pub(crate) unsafe extern "C" fn alloc_tag_module_unload(
    cttype: *mut bindings::codetag_type,
    cmod: *mut bindings::codetag_module,
) -> bool {
    // SAFETY: Per the safety requirements.
    let unlisting = unsafe { Unlisting::from_raw(cttype, cmod) };
    let module = unlisting.entry().module();
    let mut in_use = 0usize;
    for tag in unlisting.alloc_tags() {
        let ct = tag.ct();
        // Bytes and calls, as reclaiming needs both at zero.
        let counters = tag.read();
        if counters == Default::default() {
            continue;
        }
        in_use += 1;
        pr_info!(
            "{}:{} module {} func:{} has {} allocated at module unload\n",
            ct.filename(),
            ct.lineno(),
            ct.modname().unwrap_or(c_str!("")),
            ct.function(),
            counters.bytes
        );
    }
    if in_use == 0 {
        return true;
    }
    if let Err(unlisting) = keep(module, unlisting, in_use) {
        // Not in the area: the area was full or could not index them when
        // the module was listed, so profiling was off before its code ran.
        pr_err!(
            "module {}: {} tags in use outside the module tag area; dropping them\n",
            unlisting.entry().kmodule().map_or(UNKNOWN, KModule::name),
            in_use
        );
        return true;
    }
    false
}

/// Keeps an unloading module's tags: marks its range kept and has the type
/// keep them, with copies of their strings or placeholders if the copies
/// cannot be had. Allocates nothing it needs: gives `unlisting` back only
/// if the tags are not in the area.
fn keep<'a>(
    module: *mut bindings::module,
    unlisting: Unlisting<'a>,
    in_use: usize,
) -> Result<(), Unlisting<'a>> {
    let Some(area) = area() else {
        return Err(unlisting);
    };
    let a = area.lock();
    let Some((_, _, r)) = a.iter_rev().find(|(_, _, r)| r.is_of(module)) else {
        return Err(unlisting);
    };
    if !unlisting.keep() {
        pr_warn!(
            "module {}: no memory to copy the names of its tags; they stay as {}\n",
            r.name(),
            UNKNOWN
        );
    }
    pr_info!(
        "module {} unloaded with {} tags in use; keeping its tags\n",
        r.name(),
        in_use
    );
    // INVARIANT: With the area locked.
    r.kept.store(true, Ordering::Relaxed);
    r.module.store(ptr::null_mut(), Ordering::Relaxed);
    Ok(())
}

/// The debugfs file `alloc_tag/module_area`: the area's figures.
struct AreaFile;

impl SingleShow for AreaFile {
    fn show(out: &SeqFile) -> Result {
        let Some(area) = area() else {
            return Ok(());
        };
        let text = {
            let a = area.lock();
            let unloaded = a.iter_rev().filter(|(_, _, r)| r.is_kept()).count();
            CString::try_from_fmt(fmt!(
                "capacity {}\nused {}\npopulated {}\nranges {}\nunloaded {}\n",
                a.capacity(),
                a.used(),
                a.populated(),
                a.ranges(),
                unloaded
            ))?
        };
        out.write(text.as_bytes());
        Ok(())
    }
}

static MODULE_AREA_FOPS: SingleFile<AreaFile> = SingleFile::VTABLE;

/// Reserves the area; without it profiling is shut down.
pub(crate) fn init() {
    if !PROFILING_SUPPORT.load(Ordering::Relaxed) {
        return;
    }
    let mut tags = MODULE_TAGS.load(Ordering::Relaxed);
    if tags == 0 {
        pr_info!(
            "alloc_tag.module_tags=0: no module tag area; disabling memory allocation profiling\n"
        );
        shutdown_mem_profiling(true);
        return;
    }
    // Compressed mode: no larger than what page->flags can index, so every
    // tag the area holds has an index and a module that does not fit finds
    // the area full (and loads, with profiling off).
    let room = pgtag::module_room() / TAG_SIZE;
    if tags > room {
        pr_info!(
            "compressed: page->flags has indexes for {} module tags; the module tag area holds {}, not {}\n",
            room,
            room,
            tags
        );
        if room == 0 {
            pr_warn!("compressed: no module tag area; disabling memory allocation profiling\n");
            shutdown_mem_profiling(true);
            return;
        }
        tags = room;
    }
    let size = tags * TAG_SIZE;
    let area =
        VmArea::reserve_module_data(size).and_then(|vm| KBox::pin_init(Area::new(vm), GFP_KERNEL));
    let area = match area {
        Ok(area) => area,
        Err(_) => {
            pr_err!(
                "cannot reserve {} bytes for the module tag area; disabling memory allocation profiling\n",
                size
            );
            shutdown_mem_profiling(true);
            return;
        }
    };
    let (base, capacity) = {
        let a = AREA.publish_pinned(area).lock();
        (a.base(), a.capacity())
    };
    // Module tags get the page tag indexes after the kernel's.
    if pgtag::set_module_area(base, capacity).is_err() {
        pr_err!("the module tag area was set up twice\n");
    }
    MODULE_AREA_FOPS.create_in_debugfs(c_str!("alloc_tag"), c_str!("module_area"), 0o400);
}
