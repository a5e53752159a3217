// SPDX-License-Identifier: GPL-2.0

//! Allocation tags of Rust call sites.
//!
//! C code gets a tag per call site from `alloc_hooks()`: a static in the
//! `alloc_tags` section, made by the macro around each allocation. Rust
//! code allocates through the kernel crate's allocators instead, which
//! call C helpers, so every `KBox::new`, `KVec::push` or `Arc::new` used to
//! be counted on the helpers' own rows (`rust_helper_krealloc`).
//!
//! With `CONFIG_MEM_ALLOC_PROFILING` the allocation API is
//! `#[track_caller]` down to the allocator, which asks [`tag_of`] for the
//! tag of the caller's [`Location`]: the first line outside the allocation
//! API, with no change to the code that allocates. A macro at each call
//! site could name the function too and cost no lookup, but every
//! allocation in Rust code would have to be written with it; a `Location`
//! gives the file and line only, so the rows show `func:(rust)`.
//!
//! The tags are [`SITES`] slots in the kernel's own `alloc_tags` section,
//! with static per-CPU counters: listed with the C tags (in
//! `/proc/allocinfo`, the ioctl walk, `alloc_tag_top_users()`) once filled
//! in, counted in page_ext or `page->flags` like them. The first allocation
//! from a line fills one in; locations of one line share it. A lookup is a
//! hash of the location's address and a probe of [`KEYS`].
//!
//! Not tagged here, and counted on the helpers' rows as before: locations
//! outside the kernel image (Rust modules), a line found when every slot is
//! in use, and an allocation made while another CPU (or an interrupted
//! context of this one) fills in a slot.
//!
//! # Examples
//!
//! Each line that allocates is counted on its own, exactly; the allocation
//! API counts its caller's line, not its own, and back to zero on free:
//!
//! ```
//! use core::panic::Location;
//! use kernel::{
//!     alloc::{flags::GFP_KERNEL, KBox, KVec},
//!     alloc_tag::{site, Counters},
//! };
//!
//! let (one, here) = (KBox::new([0u8; 192], GFP_KERNEL)?, Location::caller());
//! let Some(tag) = site::tag_of(here) else {
//!     // Profiling is off: no tag, nothing counted.
//!     assert!(!site::enabled());
//!     return Ok(());
//! };
//! let ct = tag.ct();
//! assert_eq!((ct.filename().as_bytes(), ct.lineno()), (here.file().as_bytes(), here.line()));
//! assert_eq!(ct.function().as_bytes(), b"(rust)");
//! assert!(ct.modname().is_none());
//! // One object of slab's 192-byte size (more with debugging's metadata).
//! let first = tag.read();
//! assert!(first.calls == 1 && first.bytes >= 192);
//!
//! // Three more on another line, whose vector is counted on a third.
//! let mut more = KVec::with_capacity(3, GFP_KERNEL)?;
//! let there = Location::caller(); for _ in 0..3 { more.push(KBox::new([0u8; 192], GFP_KERNEL)?, GFP_KERNEL)?; }
//! let three = site::tag_of(there).map(|t| t.read());
//! assert_eq!(three, Some(Counters { bytes: 3 * first.bytes, calls: 3 }));
//! assert_eq!(tag.read(), first);
//!
//! // A vector that grows: one buffer at a time, reallocated on its line.
//! let mut v = KVec::new();
//! let grow = Location::caller(); for i in 0..100u64 { v.push(i, GFP_KERNEL)?; }
//! let grown = site::tag_of(grow).map(|t| t.read());
//! assert!(grown.is_some_and(|c| c.calls == 1 && c.bytes >= 800));
//!
//! drop((one, more, v));
//! for loc in [here, there, grow] {
//!     assert_eq!(site::tag_of(loc).map(|t| t.read()), Some(Counters::default()));
//! }
//! # Ok::<(), Error>(())
//! ```

use super::{static_key::StaticKey, Tag};
use crate::bindings;
use core::{
    cell::UnsafeCell,
    panic::Location,
    ptr,
    sync::atomic::{AtomicBool, AtomicPtr, AtomicU16, AtomicUsize, Ordering::*},
};

/// How many Rust lines can have a tag of their own.
pub const SITES: usize = 256;

/// Room for the file names of the tags, NUL-terminated, each once.
const NAMES: usize = 8192;

/// Slots of the key table, a power of two: room for two locations per tag
/// (several locations on one line share a tag).
const KEY_SLOTS: usize = SITES * 2;
const _: () = assert!(KEY_SLOTS.is_power_of_two() && SITES < u16::MAX as usize);

/// The function shown for a Rust call site.
const FUNCTION: &core::ffi::CStr = c"(rust)";

/// Per-CPU counters of the tags, one pair per slot.
#[link_section = ".data..percpu"]
static COUNTERS: super::Shared<[bindings::alloc_tag_counters; SITES]> =
    super::Shared::new([bindings::alloc_tag_counters { bytes: 0, calls: 0 }; SITES]);

/// The tags, in the kernel's section with the C ones.
///
/// # Invariants
///
/// A slot's code tag is written once, under [`LOCK`], before its file name
/// is stored (release); until then the name is NULL and the slot is not
/// listed ([`is_filled`]). Its counters are its pair of [`COUNTERS`].
#[repr(transparent)]
struct Tags(UnsafeCell<[bindings::alloc_tag; SITES]>);

// SAFETY: Slots are written only under `LOCK` and before they are
// published; after that only C's counters and flags change (atomically).
unsafe impl Sync for Tags {}

impl Tags {
    const fn new(counters: *const bindings::alloc_tag_counters) -> Self {
        let empty = bindings::codetag {
            flags: 0,
            lineno: 0,
            modname: ptr::null(),
            function: ptr::null(),
            filename: ptr::null(),
        };
        let mut tags = [bindings::alloc_tag {
            ct: empty,
            counters: ptr::null_mut(),
        }; SITES];
        let mut i = 0;
        while i < SITES {
            tags[i].counters = counters.wrapping_add(i).cast_mut();
            i += 1;
        }
        Self(UnsafeCell::new(tags))
    }

    fn slot(&self, i: usize) -> *mut bindings::alloc_tag {
        self.0.get().cast::<bindings::alloc_tag>().wrapping_add(i)
    }
}

#[used]
#[link_section = "alloc_tags"]
static TAGS: Tags = Tags::new(ptr::addr_of!(COUNTERS).cast());

/// The locations looked up so far: a key is a `Location`'s address (never
/// 0), stored (release) after its tag index in [`INDEX`].
static KEYS: [AtomicUsize; KEY_SLOTS] = [const { AtomicUsize::new(0) }; KEY_SLOTS];
static INDEX: [AtomicU16; KEY_SLOTS] = [const { AtomicU16::new(0) }; KEY_SLOTS];

/// Slots filled in so far.
static FILLED_SLOTS: AtomicUsize = AtomicUsize::new(0);

/// How many slots of the section are not filled in (not listed) yet.
pub fn unfilled() -> usize {
    SITES - FILLED_SLOTS.load(Relaxed)
}

/// Held while a slot or a key is filled in; never waited for.
static LOCK: AtomicBool = AtomicBool::new(false);

/// What [`LOCK`] protects.
struct Filled {
    /// Slots in use.
    tags: usize,
    /// Keys in use.
    keys: usize,
    /// The first location of each slot in use.
    first: [Option<&'static Location<'static>>; SITES],
    /// File names, NUL-terminated.
    names: [u8; NAMES],
    /// Bytes of `names` in use.
    used: usize,
}

struct Locked(UnsafeCell<Filled>);

// SAFETY: The contents are touched only while `LOCK` is held.
unsafe impl Sync for Locked {}

static FILLED: Locked = Locked(UnsafeCell::new(Filled {
    tags: 0,
    keys: 0,
    first: [None; SITES],
    names: [0; NAMES],
    used: 0,
}));

/// Whether allocations are being profiled (`sysctl.vm.mem_profiling`).
pub fn enabled() -> bool {
    profiling_key().is_enabled()
}

/// `mem_alloc_profiling_key` of `lib/alloc_tag_rs/`.
fn profiling_key() -> &'static StaticKey {
    // SAFETY: The key is a static, never freed; C declares it as a
    // `static_key_true` or `_false`, which embed a `struct static_key`.
    unsafe { StaticKey::from_raw(ptr::addr_of!(bindings::mem_alloc_profiling_key).cast()) }
}

/// Whether a code tag (of any slot, or a C tag) is filled in: the tags of
/// the section are listed only then.
///
/// # Safety
///
/// `ct` points to a code tag of the `alloc_tags` section (or of a module's).
#[inline]
pub(crate) unsafe fn is_filled(ct: *const bindings::codetag) -> bool {
    // SAFETY: The name is a pointer-sized, aligned field of a valid tag;
    // it is written only once, atomically, for the slots here (C's tags
    // are built filled in).
    let name =
        unsafe { AtomicPtr::<u8>::from_ptr(ptr::addr_of!((*ct).filename).cast_mut().cast()) };
    !name.load(Acquire).is_null()
}

fn hash(key: usize) -> usize {
    // Fibonacci hashing of the address, 8-byte aligned.
    ((key >> 3).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (usize::BITS - KEY_SLOTS.ilog2())) as usize
}

/// The tag of the Rust call site `loc` while profiling is enabled, or
/// `None`: profiling is off, or the site has no tag (see the module docs).
#[inline]
pub fn tag_of(loc: &'static Location<'static>) -> Option<&'static Tag> {
    if !profiling_key().is_enabled() {
        return None;
    }
    let key = ptr::from_ref(loc) as usize;
    let mut i = hash(key);
    for _ in 0..KEY_SLOTS {
        match KEYS[i].load(Acquire) {
            k if k == key => return Some(tag(INDEX[i].load(Relaxed).into())),
            0 => return add(loc),
            _ => i = (i + 1) % KEY_SLOTS,
        }
    }
    None
}

/// The tag of slot `i`, which is filled in.
fn tag(i: usize) -> &'static Tag {
    // SAFETY: A slot of a static, filled in (its key was published after).
    unsafe { Tag::from_raw(TAGS.slot(i)) }
}

/// Gives `loc` a key, and the tag of its line (filled in now if it is the
/// line's first location).
#[cold]
#[inline(never)]
fn add(loc: &'static Location<'static>) -> Option<&'static Tag> {
    if !in_kernel_image(ptr::from_ref(loc) as usize) || LOCK.swap(true, Acquire) {
        return None;
    }
    // SAFETY: `LOCK` is held.
    let filled = unsafe { &mut *FILLED.0.get() };
    let tag = add_locked(filled, loc);
    LOCK.store(false, Release);
    tag
}

fn add_locked(filled: &mut Filled, loc: &'static Location<'static>) -> Option<&'static Tag> {
    let key = ptr::from_ref(loc) as usize;
    let mut i = hash(key);
    while KEYS[i].load(Relaxed) != 0 {
        if KEYS[i].load(Relaxed) == key {
            return Some(tag(INDEX[i].load(Relaxed).into()));
        }
        i = (i + 1) % KEY_SLOTS;
    }
    // At most three quarters full: probes stay short.
    if filled.keys >= KEY_SLOTS / 4 * 3 {
        return None;
    }
    let same_line = |l: &Option<&Location<'_>>| {
        l.is_some_and(|l| l.line() == loc.line() && l.file() == loc.file())
    };
    let t = match filled.first[..filled.tags].iter().position(same_line) {
        Some(t) => t,
        None => fill(filled, loc)?,
    };
    INDEX[i].store(t as u16, Relaxed);
    KEYS[i].store(key, Release);
    filled.keys += 1;
    Some(tag(t))
}

/// Fills in the next free slot for `loc`'s line: its index.
fn fill(filled: &mut Filled, loc: &'static Location<'static>) -> Option<usize> {
    let t = filled.tags;
    if t == SITES {
        return None;
    }
    let same_file = |l: &Option<&Location<'_>>| l.is_some_and(|l| l.file() == loc.file());
    let name = match filled.first[..t].iter().position(same_file) {
        // The file's name was copied for another line.
        // SAFETY: A filled-in slot: its name is written, and `LOCK` is
        // held.
        Some(other) => unsafe { (*TAGS.slot(other)).ct.filename },
        None => {
            let file = loc.file();
            let file = file.strip_prefix(srctree()).unwrap_or(file).as_bytes();
            let end = filled
                .used
                .checked_add(file.len() + 1)
                .filter(|&e| e <= NAMES)?;
            let dst = &mut filled.names[filled.used..end];
            dst[..file.len()].copy_from_slice(file);
            dst[file.len()] = 0;
            let name = dst.as_ptr().cast();
            filled.used = end;
            name
        }
    };
    let slot = TAGS.slot(t);
    // SAFETY: The slot is not filled in (`t` is the first free one) and
    // `LOCK` is held: nothing else reads or writes its code tag. The name
    // goes last, with release: from then on the slot is listed.
    unsafe {
        (*slot).ct.lineno = loc.line();
        (*slot).ct.function = FUNCTION.as_ptr().cast();
        AtomicPtr::from_ptr(ptr::addr_of_mut!((*slot).ct.filename).cast())
            .store(name.cast_mut(), Release);
    }
    filled.first[t] = Some(loc);
    filled.tags = t + 1;
    FILLED_SLOTS.store(t + 1, Relaxed);
    Some(t)
}

/// The source tree's path as the Rust compiler was given it (absolute when
/// the kernel is built in another directory), which C's file names leave
/// out (`-fmacro-prefix-map`): this file's own name, less its place in
/// the tree.
fn srctree() -> &'static str {
    file!()
        .strip_suffix("rust/kernel/alloc_tag/site.rs")
        .unwrap_or("")
}

/// Whether `addr` is in the kernel image: a module's locations go away with
/// it, and their address may then be another's.
fn in_kernel_image(addr: usize) -> bool {
    extern "C" {
        static _text: [u8; 0];
        static _end: [u8; 0];
    }
    (ptr::addr_of!(_text) as usize..ptr::addr_of!(_end) as usize).contains(&addr)
}
