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
//! The tags of the kernel's own lines are [`SITES`] slots in the kernel's
//! `alloc_tags` section, with static per-CPU counters. A Rust module has
//! [`MODULE_SITES`] slots of its own, which the `module!` macro puts in the
//! module's `alloc_tags` section ([`ModuleSites`]): the module loader
//! places them in the module tag area with any C tags of the module, and
//! they get per-CPU counters when the module is listed. Slots are listed
//! with the C tags (in `/proc/allocinfo`, the ioctl walk,
//! `alloc_tag_top_users()`) once filled in, and counted in page_ext or
//! `page->flags` like them. The first allocation from a line fills one in;
//! locations of one line share it. A lookup is a hash of the location's
//! address and a probe of a table of them.
//!
//! So a Rust module's tags are C module tags in all but their birth: at
//! unload its locations are forgotten (another module may be loaded where
//! they were); tags still counting are kept, with copies of their names,
//! until what they count is freed and a later module load reclaims them;
//! loaded again, the module counts on tags of its new range.
//!
//! Not tagged here, and counted on the helpers' rows as before: a line
//! found when every slot of its kernel or module is in use, or the names
//! have no room left (reported once per line); and an allocation made while
//! another CPU (or an interrupted context of this one) fills in a slot.
//!
//! # Examples
//!
//! Each line that allocates is counted on its own, exactly; the allocation
//! API counts its caller's line, not its own, and back to zero on free:
//!
//! ```
//! use core::panic::Location;
//! use kernel::{
//!     alloc::{flags::GFP_KERNEL, KBox, KVBox, KVec, VBox},
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
//! let mut there = here;
//! for _ in 0..3 {
//!     let (object, at) = (KBox::new([0u8; 192], GFP_KERNEL)?, Location::caller());
//!     more.push(object, GFP_KERNEL)?;
//!     there = at;
//! }
//! let three = site::tag_of(there).map(|t| t.read());
//! assert_eq!(three, Some(Counters { bytes: 3 * first.bytes, calls: 3 }));
//! assert_eq!(tag.read(), first);
//!
//! // A vector that grows: one buffer at a time, reallocated on its line.
//! let mut v = KVec::new();
//! let mut grow = here;
//! for i in 0..100u64 {
//!     let ((), at) = (v.push(i, GFP_KERNEL)?, Location::caller());
//!     grow = at;
//! }
//! let grown = site::tag_of(grow).map(|t| t.read());
//! assert!(grown.is_some_and(|c| c.calls == 1 && c.bytes >= 800));
//!
//! // Past slab's largest cache: pages of the page allocator, whose tag
//! // reference is in page_ext or (compressed) in `page->flags`.
//! let (big, large) = (KVec::<u8>::with_capacity(65536, GFP_KERNEL)?, Location::caller());
//! let pages = site::tag_of(large).map(|t| t.read());
//! assert_eq!(pages, Some(Counters { bytes: 65536, calls: 1 }));
//!
//! // vmalloc: the area's pages, and the array that holds them.
//! let (vm, vmalloc) = (VBox::new([0u8; 192], GFP_KERNEL)?, Location::caller());
//! let mapped = site::tag_of(vmalloc).map(|t| t.read());
//! assert!(mapped.is_some_and(|c| c.calls >= 1 && c.bytes >= 4096));
//!
//! // kvmalloc, small enough for slab.
//! let (kv, kvmalloc) = (KVBox::new([0u8; 192], GFP_KERNEL)?, Location::caller());
//! let kvs = site::tag_of(kvmalloc).map(|t| t.read());
//! assert_eq!(kvs, Some(first));
//!
//! // Every free gives the bytes back, whichever allocator.
//! drop((one, more, v, big, vm, kv));
//! for loc in [here, there, grow, large, vmalloc, kvmalloc] {
//!     assert_eq!(site::tag_of(loc).map(|t| t.read()), Some(Counters::default()));
//! }
//! # Ok::<(), Error>(())
//! ```

use super::{static_key::StaticKey, Tag};
use crate::{bindings, str::CStr};
use core::{
    cell::UnsafeCell,
    mem::size_of,
    panic::Location,
    ptr,
    sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering::*},
};

/// How many lines of the kernel image can have a tag of their own.
pub const SITES: usize = 256;

/// How many lines of one Rust module can have a tag of their own.
pub const MODULE_SITES: usize = 64;

/// Room for the file and module names of the tags, NUL-terminated, each
/// once (a module loaded again finds its names there).
const NAMES: usize = 8192;

/// Slots of the key table, a power of two: room for two locations per
/// kernel tag and as many for modules' (several locations on one line
/// share a tag).
const KEY_SLOTS: usize = 1024;
const _: () = assert!(KEY_SLOTS.is_power_of_two());

/// The function shown for a Rust call site.
const FUNCTION: &core::ffi::CStr = c"(rust)";

/// A slot not filled in: no names, no counters yet.
const EMPTY: bindings::alloc_tag = bindings::alloc_tag {
    ct: bindings::codetag {
        flags: 0,
        lineno: 0,
        modname: ptr::null(),
        function: ptr::null(),
        filename: ptr::null(),
    },
    counters: ptr::null_mut(),
};

/// Per-CPU counters of the kernel's tags, one pair per slot.
#[link_section = ".data..percpu"]
static COUNTERS: super::Shared<[bindings::alloc_tag_counters; SITES]> =
    super::Shared::new([bindings::alloc_tag_counters { bytes: 0, calls: 0 }; SITES]);

/// The kernel's tags, in its section with the C ones; their counters are
/// their pairs of [`COUNTERS`].
#[repr(transparent)]
struct Tags(UnsafeCell<[bindings::alloc_tag; SITES]>);

// SAFETY: Slots are written only under `LOCK` and before they are
// published; after that only C's counters and flags change (atomically).
unsafe impl Sync for Tags {}

impl Tags {
    const fn new(counters: *const bindings::alloc_tag_counters) -> Self {
        let mut tags = [EMPTY; SITES];
        let mut i = 0;
        while i < SITES {
            tags[i].counters = counters.wrapping_add(i).cast_mut();
            i += 1;
        }
        Self(UnsafeCell::new(tags))
    }
}

#[used]
#[link_section = "alloc_tags"]
static TAGS: Tags = Tags::new(ptr::addr_of!(COUNTERS).cast());

/// The slots of a Rust module's lines: the `module!` macro puts one in
/// every loadable module's `alloc_tags` section, empty; the module's
/// listing gives them counters, [`tag_of`] fills them in.
#[repr(transparent)]
pub struct ModuleSites(UnsafeCell<[bindings::alloc_tag; MODULE_SITES]>);

// SAFETY: As for `Tags`: written only under `LOCK` before they are
// published, or by the codetag core with the type's lock held for writing.
unsafe impl Sync for ModuleSites {}

impl ModuleSites {
    /// Empty slots.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Self(UnsafeCell::new([EMPTY; MODULE_SITES]))
    }
}

/// The locations looked up so far: a key is a `Location`'s address,
/// stored (release) after its tag in [`TAG`]; 0 is a free entry and
/// [`GONE`] one whose module was unloaded.
static KEYS: [AtomicUsize; KEY_SLOTS] = [const { AtomicUsize::new(0) }; KEY_SLOTS];

/// The tag of each key: a filled-in slot, or NULL for a line that has none
/// (see the module docs).
static TAG: [AtomicPtr<bindings::alloc_tag>; KEY_SLOTS] =
    [const { AtomicPtr::new(ptr::null_mut()) }; KEY_SLOTS];

/// The key of an entry whose location went with its module (no location is
/// at an odd address).
const GONE: usize = 1;

/// Held while a slot or a key is filled in or keys are forgotten. An
/// allocation never waits for it: it goes untagged instead.
static LOCK: AtomicBool = AtomicBool::new(false);

/// What [`LOCK`] protects.
struct Filled {
    /// Entries of [`KEYS`] not free (in use or [`GONE`]).
    keys: usize,
    /// File and module names, NUL-terminated, each once.
    names: [u8; NAMES],
    /// Bytes of `names` in use.
    used: usize,
}

struct Locked(UnsafeCell<Filled>);

// SAFETY: The contents are touched only while `LOCK` is held.
unsafe impl Sync for Locked {}

static FILLED: Locked = Locked(UnsafeCell::new(Filled {
    keys: 0,
    names: [0; NAMES],
    used: 0,
}));

/// Whether allocations are being profiled (`sysctl.vm.mem_profiling`).
#[inline]
pub fn enabled() -> bool {
    profiling_key().is_enabled()
}

/// `mem_alloc_profiling_key` of `lib/alloc_tag_rs/`.
#[inline]
fn profiling_key() -> &'static StaticKey {
    // SAFETY: The key is a static, never freed; C declares it as a
    // `static_key_true` or `_false`, which embed a `struct static_key`.
    unsafe { StaticKey::from_raw(ptr::addr_of!(bindings::mem_alloc_profiling_key).cast()) }
}

/// Whether a code tag (a slot, or a C tag) is filled in: the tags of a
/// section are listed only then.
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

#[inline]
fn hash(key: usize) -> usize {
    // Fibonacci hashing of the address, 8-byte aligned.
    (key >> 3).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (usize::BITS - KEY_SLOTS.ilog2())
}

/// The tag of the Rust call site `loc` while profiling is enabled, or
/// `None`: profiling is off, or the site has no tag (see the module docs).
///
/// The tag of a module's line lives in the module tag area as long as the
/// module, and after it while it counts allocations: as `'static` as the
/// module's own statics are to its code.
#[inline]
pub fn tag_of(loc: &'static Location<'static>) -> Option<&'static Tag> {
    if !enabled() {
        return None;
    }
    lookup(loc)
}

/// [`tag_of`] for a caller that has just seen [`enabled`]: the tag of `loc`,
/// or `None` if the site has no tag. Called while profiling is disabled, it
/// would give `loc` a tag all the same, which then counts nothing.
#[inline]
pub fn lookup(loc: &'static Location<'static>) -> Option<&'static Tag> {
    let key = ptr::from_ref(loc) as usize;
    let mut i = hash(key);
    for _ in 0..KEY_SLOTS {
        match KEYS[i].load(Acquire) {
            k if k == key => return tag(TAG[i].load(Relaxed)),
            0 => return add(loc),
            _ => i = (i + 1) % KEY_SLOTS,
        }
    }
    None
}

/// The tag a key entry stores.
#[inline]
fn tag(t: *mut bindings::alloc_tag) -> Option<&'static Tag> {
    // SAFETY: A filled-in slot, published before its key: the kernel's, or
    // a module's, whose range stays while the module runs (the lookup is
    // made for its code) and after it while it counts.
    (!t.is_null()).then(|| unsafe { Tag::from_raw(t) })
}

/// Gives `loc` a key, and the tag of its line (filled in now if it is the
/// line's first location).
#[cold]
#[inline(never)]
fn add(loc: &'static Location<'static>) -> Option<&'static Tag> {
    if LOCK.swap(true, Acquire) {
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
    let mut reuse = None;
    loop {
        match KEYS[i].load(Relaxed) {
            0 => break,
            GONE => {
                reuse.get_or_insert(i);
            }
            k if k == key => return tag(TAG[i].load(Relaxed)),
            _ => {}
        }
        i = (i + 1) % KEY_SLOTS;
    }
    // At most three quarters in use: probes stay short and end.
    let i = match reuse {
        Some(gone) => gone,
        None if filled.keys < KEY_SLOTS / 4 * 3 => i,
        None => return None,
    };
    let (slots, module) = Slots::of(key)?;
    let file = loc.file();
    let file = file.strip_prefix(srctree()).unwrap_or(file).as_bytes();
    let t = match slots.find(file, loc.line(), module) {
        Some(t) => t,
        None => match fill(filled, slots, file, loc.line(), module) {
            Some(t) => t,
            None => {
                crate::pr_warn!(
                    "no allocation tag for Rust call site {}:{} [{}]; counted on the helpers' rows\n",
                    loc.file(),
                    loc.line(),
                    module.unwrap_or(crate::c_str!("kernel"))
                );
                ptr::null_mut()
            }
        },
    };
    if KEYS[i].load(Relaxed) == 0 {
        filled.keys += 1;
    }
    TAG[i].store(t, Relaxed);
    KEYS[i].store(key, Release);
    tag(t)
}

/// The slots of the kernel image or of one module.
///
/// # Invariants
///
/// `start..start + len` are valid tags: the kernel's [`TAGS`], or the
/// `alloc_tags` section of a module whose code is running the lookup, where
/// C tags may sit beside its [`ModuleSites`]. Tags with counters only
/// (a module's get theirs when it is listed).
#[derive(Clone, Copy)]
struct Slots {
    start: *mut bindings::alloc_tag,
    len: usize,
}

impl Slots {
    /// The slots for a location at `key`, and the name of its module.
    fn of(key: usize) -> Option<(Self, Option<&'static CStr>)> {
        if in_kernel_image(key) {
            // INVARIANT: The kernel's slots.
            let kernel = Self {
                start: TAGS.0.get().cast(),
                len: SITES,
            };
            return Some((kernel, None));
        }
        let (mut start, mut stop) = (ptr::null_mut(), ptr::null_mut());
        // SAFETY: Both pointers are valid for writes.
        let name = unsafe { bindings::alloc_tag_module_tags(key, &mut start, &mut stop) };
        let bytes = (stop as usize).checked_sub(start as usize)?;
        if name.is_null() || start.is_null() || bytes % size_of::<bindings::alloc_tag>() != 0 {
            // Neither the kernel nor a module: not counted here.
            return None;
        }
        // INVARIANT: The bounds of the section of the module that holds
        // the location, whose code is running (it asked for the lookup).
        let slots = Self {
            start,
            len: bytes / size_of::<bindings::alloc_tag>(),
        };
        // SAFETY: The module's name, NUL-terminated, valid while it runs.
        Some((slots, Some(unsafe { CStr::from_char_ptr(name) })))
    }

    fn iter(self) -> impl Iterator<Item = *mut bindings::alloc_tag> {
        (0..self.len).map(move |i| self.start.wrapping_add(i))
    }

    /// The tag of `line` of `file` in `module`, if a slot is filled in for
    /// it.
    fn find(
        self,
        file: &[u8],
        line: u32,
        module: Option<&CStr>,
    ) -> Option<*mut bindings::alloc_tag> {
        let module = module.map(CStr::as_bytes);
        self.iter().find(|&t| {
            // SAFETY: A valid tag (type invariant); `is_filled` tells when
            // its code tag may be read.
            let ct = unsafe { ptr::addr_of!((*t).ct) };
            // SAFETY: As above.
            if !unsafe { is_filled(ct) } {
                return false;
            }
            // SAFETY: A filled-in code tag: its strings are valid, and
            // written no more while its module runs.
            let ct = unsafe { super::codetag::CodeTag::from_raw(ct) };
            let modname = ct.modname().map(CStr::as_bytes);
            ptr::eq(ct.function().as_char_ptr(), FUNCTION.as_ptr().cast())
                && (ct.filename().as_bytes(), ct.lineno(), modname) == (file, line, module)
        })
    }
}

/// `name`, NUL-terminated, from the names copied before or copied now.
fn intern(filled: &mut Filled, name: &[u8]) -> Option<*const u8> {
    let mut at = 0;
    while at < filled.used {
        let len = filled.names[at..filled.used].iter().position(|&b| b == 0)?;
        if &filled.names[at..at + len] == name {
            return Some(filled.names[at..].as_ptr());
        }
        at += len + 1;
    }
    let end = filled
        .used
        .checked_add(name.len() + 1)
        .filter(|&e| e <= NAMES)?;
    let dst = &mut filled.names[filled.used..end];
    dst[..name.len()].copy_from_slice(name);
    dst[name.len()] = 0;
    filled.used = end;
    Some(dst.as_ptr())
}

/// Fills in a free slot of `slots` for `line` of `file` (in `module`).
fn fill(
    filled: &mut Filled,
    slots: Slots,
    file: &[u8],
    line: u32,
    module: Option<&CStr>,
) -> Option<*mut bindings::alloc_tag> {
    let slot = slots.iter().find(|&t| {
        // SAFETY: A valid tag (type invariant of `Slots`).
        let ct = unsafe { ptr::addr_of!((*t).ct) };
        // SAFETY: As above; a slot with counters can be counted with.
        !unsafe { is_filled(ct) } && !unsafe { (*t).counters }.is_null()
    })?;
    let name = intern(filled, file)?;
    let modname = match module {
        Some(m) => intern(filled, m.as_bytes())?,
        None => ptr::null(),
    };
    // SAFETY: The slot is not filled in and `LOCK` is held: nothing else
    // reads or writes its code tag (the codetag core leaves a module's
    // tags alone while its code runs). The name goes last, with release:
    // from then on the slot is listed.
    unsafe {
        (*slot).ct.lineno = line;
        (*slot).ct.modname = modname.cast();
        (*slot).ct.function = FUNCTION.as_ptr().cast();
        AtomicPtr::from_ptr(ptr::addr_of_mut!((*slot).ct.filename).cast())
            .store(name.cast_mut(), Release);
    }
    Some(slot)
}

/// Forgets the locations of `module`, which is going away: another module
/// may be loaded where they were. Its tags are the codetag core's to keep
/// or drop with the rest of the module's.
///
/// # Safety
///
/// `module` is a module whose code no longer runs and whose memory is
/// still there (the module loader's `codetag_unload_module()`).
pub unsafe fn forget_module(module: *mut bindings::module) {
    // Held by allocations for a few instructions, never while they sleep.
    while LOCK.swap(true, Acquire) {
        core::hint::spin_loop();
    }
    for key in &KEYS {
        let k = key.load(Relaxed);
        // SAFETY: `module` is valid per the safety requirements.
        if k != 0 && k != GONE && unsafe { bindings::within_module(k, module) } {
            key.store(GONE, Relaxed);
        }
    }
    LOCK.store(false, Release);
}

/// The source tree's path as the Rust compiler was given it (absolute when
/// the kernel is built in another directory), which C's file names leave
/// out (`-fmacro-prefix-map`): what comes before `rust/kernel/` in this
/// file's own name.
fn srctree() -> &'static str {
    let here = file!();
    here.rfind("rust/kernel/").map_or("", |at| &here[..at])
}

/// Whether `addr` is in the kernel image, whose locations stay.
fn in_kernel_image(addr: usize) -> bool {
    extern "C" {
        static _text: [u8; 0];
        static _end: [u8; 0];
    }
    (ptr::addr_of!(_text) as usize..ptr::addr_of!(_end) as usize).contains(&addr)
}
