// SPDX-License-Identifier: GPL-2.0

//! Memory allocation profiling: what `lib/alloc_tag.c` and `lib/codetag.c`
//! did in 6.12, in Rust, with the same C ABI.
//!
//! This object defines `/proc/allocinfo`, `alloc_tag_top_users()` (for
//! `show_mem()`), the module-unload check, the `sysctl.vm.mem_profiling`
//! early parameter, the `vm.mem_profiling` sysctl, `page_alloc_tagging_ops`
//! (the page_ext client), the static key `mem_alloc_profiling_key`, the
//! per-CPU `_shared_alloc_tag` and the initcall; [`codetag`] holds the C
//! ABI of `lib/codetag.c`.
//!
//! C glue: none in this directory. The kernel crate's `rust/helpers/`
//! gains `per_cpu_ptr()` and `cpumask_next()`, which are macros or inline
//! functions in C.
//!
//! C header: [`include/linux/alloc_tag.h`](srctree/include/linux/alloc_tag.h).

use core::{
    ffi::{c_int, c_void},
    mem::size_of,
    ptr,
    sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering},
};
use kernel::{
    alloc::{flags::GFP_KERNEL, KBox},
    alloc_tag::{
        codetag::{CodeTag, Cursor, Tags, Type},
        static_key::StaticKey,
        Tag,
    },
    bindings, c_str, export_symbol,
    ffi::c_char,
    new_mutex,
    prelude::*,
    str::{BStr, CStr},
    sync::{lock::mutex::MutexBackend, lock::Guard, Mutex},
    types::Opaque,
};

pub mod codetag;
pub mod format;
#[cfg(CONFIG_MODULES)]
mod module_area;
pub mod param;
pub mod top;

const __LOG_PREFIX: &[u8] = b"alloc_tag\0";

/// Whether profiling can ever be enabled: `false` after `=never` or once
/// [`shutdown_mem_profiling`] ran.
static PROFILING_SUPPORT: AtomicBool =
    AtomicBool::new(cfg!(CONFIG_MEM_ALLOC_PROFILING_ENABLED_BY_DEFAULT));

/// Whether allocations are being profiled; C tests it inline in every hook.
#[no_mangle]
pub static mem_alloc_profiling_key: StaticKey =
    StaticKey::new(cfg!(CONFIG_MEM_ALLOC_PROFILING_ENABLED_BY_DEFAULT));

// C declares the key as a `struct static_key_true` or `_false`: same layout.
const _: () = assert!(size_of::<StaticKey>() == size_of::<bindings::static_key_true>());

/// A C object Rust defines and C code writes.
#[repr(transparent)]
pub struct Shared<T>(Opaque<T>);

// SAFETY: Rust never reads or writes the inner object after building it;
// only C does, with its own synchronisation.
unsafe impl<T> Sync for Shared<T> {}

impl<T> Shared<T> {
    const fn new(value: T) -> Self {
        Self(Opaque::new(value))
    }
}

/// The counters of tags that cannot have their own per-CPU counters
/// (`ARCH_NEEDS_WEAK_PER_CPU`); exported for modules.
#[no_mangle]
#[link_section = ".data..percpu"]
pub static _shared_alloc_tag: Shared<bindings::alloc_tag_counters> =
    Shared::new(bindings::alloc_tag_counters { bytes: 0, calls: 0 });
export_symbol!(_shared_alloc_tag);

/// The page_ext client that stores each page's tag reference; page_ext
/// fills in `offset` at boot.
#[no_mangle]
pub static page_alloc_tagging_ops: Shared<bindings::page_ext_operations> =
    Shared::new(bindings::page_ext_operations {
        offset: 0,
        size: size_of::<bindings::codetag_ref>(),
        need: Some(need_page_alloc_tagging),
        init: Some(init_page_alloc_tagging),
        need_shared_flags: false,
    });
export_symbol!(page_alloc_tagging_ops);

/// page_ext keeps a tag reference per page unless profiling is off for good
/// or the references live in `page->flags` (compressed mode).
extern "C" fn need_page_alloc_tagging() -> bool {
    PROFILING_SUPPORT.load(Ordering::Relaxed) && !compressed_key().is_enabled()
}

/// `mem_profiling_compressed`, defined with the page tag code (`mm/pgtag/`).
fn compressed_key() -> &'static StaticKey {
    // SAFETY: The key is a static of mm/pgtag/, never freed; a
    // `static_key_false` starts with its `struct static_key`.
    unsafe { StaticKey::from_raw(ptr::addr_of!(bindings::mem_profiling_compressed).cast()) }
}

/// Whether `,compressed` was asked for (`sysctl.vm.mem_profiling=`).
static COMPRESSED: AtomicBool = AtomicBool::new(false);

/// The debugging limit on the bits compressed mode may use
/// (`alloc_tag.compressed_bits=`); no limit by default.
static COMPRESSED_BITS: AtomicU32 = AtomicU32::new(u32::MAX);

/// Puts page tag references where the boot parameters ask: in page->flags
/// with `,compressed`, if the kernel's tags fit there; otherwise profiling
/// is disabled (mm/pgtag/ warns with the numbers). Early parameters come
/// in command line order, so each one that matters applies them again.
#[link_section = ".init.text"]
fn apply_compressed() {
    let compressed = COMPRESSED.load(Ordering::Relaxed);
    let bits = COMPRESSED_BITS.load(Ordering::Relaxed);
    // SAFETY: Early boot, single-threaded, before pages are accounted.
    if !unsafe { bindings::pgtag_compressed_setup(compressed, bits) } {
        PROFILING_SUPPORT.store(false, Ordering::Relaxed);
        if mem_alloc_profiling_key.is_enabled() {
            mem_alloc_profiling_key.disable();
        }
    }
}

/// Every page has its page_ext now: mm/pgtag/ marks the pages allocated
/// before (debugging).
extern "C" fn init_page_alloc_tagging() {
    // SAFETY: Called by page_ext once, when every page_ext exists.
    unsafe { bindings::pgtag_page_ext_ready() };
}

/// Returns whether profiling is disabled for good (`=never`).
///
/// Valid once early parameters were parsed.
#[no_mangle]
pub extern "C" fn mem_alloc_profiling_permanently_disabled() -> bool {
    !PROFILING_SUPPORT.load(Ordering::Relaxed)
}

const _: () = {
    let _ = if true {
        bindings::mem_alloc_profiling_permanently_disabled
    } else {
        mem_alloc_profiling_permanently_disabled
    };
    let _ = if true {
        bindings::alloc_tag_top_users
    } else {
        alloc_tag_top_users
    };
    let _ = if true {
        bindings::alloc_tag_show_top_users
    } else {
        alloc_tag_show_top_users
    };
};

/// An entry of the `.init.setup` table: C's `struct obs_kernel_param`,
/// which bindgen does not see (`include/linux/init.h` hides it from
/// modules, and the bindings are generated as for a module).
#[repr(C)]
struct EarlyParam {
    name: *const c_char,
    setup: unsafe extern "C" fn(*mut c_char) -> c_int,
    early: c_int,
}

// SAFETY: Read-only; it only points to a static string and a function.
unsafe impl Sync for EarlyParam {}

/// `early_param("sysctl.vm.mem_profiling", setup_early_mem_profiling)`.
#[link_section = ".init.setup"]
#[used]
static EARLY_PARAM: EarlyParam = EarlyParam {
    name: c_str!("sysctl.vm.mem_profiling").as_char_ptr(),
    setup: setup_early_mem_profiling,
    early: 1,
};

/// `__setup("alloc_tag.module_tags=", setup_module_tags)`.
#[cfg(CONFIG_MODULES)]
#[link_section = ".init.setup"]
#[used]
static MODULE_TAGS_PARAM: EarlyParam = EarlyParam {
    name: c_str!("alloc_tag.module_tags=").as_char_ptr(),
    setup: setup_module_tags,
    early: 0,
};

/// `early_param("alloc_tag.compressed_bits", setup_compressed_bits)`: a
/// debugging knob, so that tests can see what happens when tags do not fit.
#[cfg(CONFIG_MEM_ALLOC_PROFILING_DEBUG)]
#[link_section = ".init.setup"]
#[used]
static COMPRESSED_BITS_PARAM: EarlyParam = EarlyParam {
    name: c_str!("alloc_tag.compressed_bits").as_char_ptr(),
    setup: setup_compressed_bits,
    early: 1,
};

/// Applies `alloc_tag.compressed_bits=`: at most this many bits of
/// `page->flags` for tag references.
///
/// # Safety
///
/// `value` is NULL or a NUL-terminated string (the early parameter code).
#[cfg(CONFIG_MEM_ALLOC_PROFILING_DEBUG)]
#[link_section = ".init.text"]
unsafe extern "C" fn setup_compressed_bits(value: *mut c_char) -> c_int {
    // SAFETY: The early parameter code passes NULL or a NUL-terminated string.
    let value = (!value.is_null()).then(|| unsafe { CStr::from_char_ptr(value) }.as_bytes());
    match value.and_then(param::parse_compressed_bits) {
        Some(bits) => COMPRESSED_BITS.store(bits, Ordering::Relaxed),
        None => {
            pr_err!("alloc_tag.compressed_bits needs a number of bits from 1 to 64; ignored\n");
            return EINVAL.to_errno();
        }
    }
    apply_compressed();
    0
}

/// Applies `alloc_tag.module_tags=`: the module tag area's capacity in tags.
///
/// # Safety
///
/// `value` is a NUL-terminated string (the boot option code).
#[cfg(CONFIG_MODULES)]
#[link_section = ".init.text"]
unsafe extern "C" fn setup_module_tags(value: *mut c_char) -> c_int {
    // SAFETY: The boot option code passes a NUL-terminated string.
    let value = unsafe { CStr::from_char_ptr(value) }.as_bytes();
    match param::parse_module_tags(value) {
        Some(n) => module_area::MODULE_TAGS.store(n, Ordering::Relaxed),
        None => pr_err!(
            "alloc_tag.module_tags={}: not a number of tags from 0 to {}; keeping the default\n",
            BStr::from_bytes(value.get(..64).unwrap_or(value)),
            param::MAX_MODULE_TAGS
        ),
    }
    // Handled: not for init's environment.
    1
}

/// Applies `sysctl.vm.mem_profiling=`; see [`param::parse`] for the grammar.
///
/// A bad value is reported, and the built-in default stays in force.
///
/// # Safety
///
/// `value` is NULL or a NUL-terminated string (the early parameter code).
#[link_section = ".init.text"]
unsafe extern "C" fn setup_early_mem_profiling(value: *mut c_char) -> c_int {
    if value.is_null() {
        pr_err!("sysctl.vm.mem_profiling needs a value: 0, 1 or never\n");
        return EINVAL.to_errno();
    }
    // SAFETY: The early parameter code passes a NUL-terminated string.
    let value = unsafe { CStr::from_char_ptr(value) }.as_bytes();
    let setting = match param::parse(value) {
        Ok(s) => s,
        Err(e) => {
            let why = e.as_str();
            const SHOWN: usize = 64;
            let (shown, more) = match value.get(..SHOWN) {
                Some(head) if value.len() > SHOWN => (head, "..."),
                _ => (value, ""),
            };
            pr_err!(
                "sysctl.vm.mem_profiling={}{}: {}; keeping the default\n",
                BStr::from_bytes(shown),
                more,
                why
            );
            return EINVAL.to_errno();
        }
    };
    if let Some(rest) = param::ignored_after_never(value) {
        pr_warn!(
            "sysctl.vm.mem_profiling=never{}: read as never; '{}' ignored\n",
            BStr::from_bytes(rest.get(..64).unwrap_or(rest)),
            BStr::from_bytes(rest.get(..64).unwrap_or(rest))
        );
    }
    PROFILING_SUPPORT.store(!setting.permanently_disabled(), Ordering::Relaxed);
    if setting.enabled() != mem_alloc_profiling_key.is_enabled() {
        if setting.enabled() {
            mem_alloc_profiling_key.enable();
        } else {
            mem_alloc_profiling_key.disable();
        }
    }
    COMPRESSED.store(setting.compressed, Ordering::Relaxed);
    apply_compressed();
    0
}

/// The allocation tag type, set once by the initcall.
static ALLOC_TAG_TYPE: AtomicPtr<Type> = AtomicPtr::new(ptr::null_mut());

/// `/proc/allocinfo`, until [`shutdown_mem_profiling`] removes it.
static ALLOCINFO: AtomicPtr<bindings::proc_dir_entry> = AtomicPtr::new(ptr::null_mut());

/// Serialises what switches profiling after boot: writes of the sysctl and
/// [`shutdown_mem_profiling`]. A write that found profiling supported
/// therefore cannot turn it on after a shutdown.
///
/// Set once by the initcall, before the sysctl is registered and before any
/// module can load; until then boot is single-threaded and nothing switches
/// profiling but the early parameters.
///
/// Lock order: the allocation tag type's lock, this one, then the static
/// key's (`static_key_mutex`, `cpus_read_lock()`, `jump_label_mutex`).
static PROFILING_LOCK: AtomicPtr<Mutex<()>> = AtomicPtr::new(ptr::null_mut());

/// Takes [`PROFILING_LOCK`], if it exists yet.
fn profiling_lock() -> Option<Guard<'static, (), MutexBackend>> {
    let lock = PROFILING_LOCK.load(Ordering::Acquire);
    // SAFETY: A non-NULL value is a leaked, pinned mutex, never freed; the
    // acquire load pairs with the release store that published it.
    (!lock.is_null()).then(|| unsafe { &*lock }.lock())
}

/// Turns profiling off for good: the key off, the sysctl refusing writes,
/// and, with `remove_file`, `/proc/allocinfo` gone. For failures after
/// which the counters cannot be trusted or kept up.
///
/// It may sleep. The caller may hold the allocation tag type's lock, but
/// no other lock of ours.
fn shutdown_mem_profiling(remove_file: bool) {
    {
        let _serialised = profiling_lock();
        if PROFILING_SUPPORT.swap(false, Ordering::Relaxed) {
            pr_info!("memory allocation profiling is disabled until the next boot\n");
        }
        if mem_alloc_profiling_key.is_enabled() {
            mem_alloc_profiling_key.disable();
        }
    }
    if remove_file {
        let entry = ALLOCINFO.swap(ptr::null_mut(), Ordering::AcqRel);
        if !entry.is_null() {
            // SAFETY: `entry` is `/proc/allocinfo`, created by `procfs_init`
            // and removed only here (the swap makes this the only remover).
            unsafe { bindings::proc_remove(entry) };
        }
    }
}

fn alloc_tag_type() -> Option<&'static Type> {
    let ty = ALLOC_TAG_TYPE.load(Ordering::Acquire);
    // SAFETY: A non-NULL value is a registered type, which lives forever.
    (!ty.is_null()).then(|| unsafe { &*ty })
}

/// Returns the allocation tag that embeds a code tag of the allocation type.
pub(crate) fn alloc_tag(ct: &CodeTag) -> &Tag {
    // SAFETY: Every code tag of the "alloc_tags" sections is the `ct` field
    // of a `struct alloc_tag` (`DEFINE_ALLOC_TAG()`).
    unsafe { Tag::from_codetag(ct) }
}

impl top::Ranked for bindings::codetag_bytes {
    fn bytes(&self) -> i64 {
        self.bytes
    }
}

/// Fills `slots` with the tags of `tags` that have the most bytes allocated,
/// largest first, and returns how many it filled.
fn top_users(tags: &Tags<'_>, slots: &mut [bindings::codetag_bytes]) -> usize {
    slots.fill(bindings::codetag_bytes {
        ct: ptr::null_mut(),
        bytes: 0,
    });
    let mut top = top::TopN::new(slots);
    for (_, ct) in tags.iter() {
        top.offer(bindings::codetag_bytes {
            ct: ct.as_ptr(),
            bytes: alloc_tag(ct).read().bytes as i64,
        });
    }
    top.len()
}

/// The allocation tags, locked for reading: `None` if there is no type, or
/// without `can_sleep` if a module load or unload holds the lock.
fn read_tags(can_sleep: bool) -> Option<Tags<'static>> {
    let ty = alloc_tag_type()?;
    if can_sleep {
        Some(ty.read())
    } else {
        ty.try_read()
    }
}

/// Fills `tags` with the `count` tags that have the most bytes allocated,
/// largest first, and returns how many it filled.
///
/// Without `can_sleep` it gives up (returns 0) rather than wait for a
/// module load or unload. The tags are only safe to use while the module
/// list is locked: a module load may reclaim an unloaded module's tags.
/// `show_mem()` uses [`alloc_tag_show_top_users`] instead.
///
/// # Safety
///
/// `tags` is valid for writing `count` entries.
#[no_mangle]
pub unsafe extern "C" fn alloc_tag_top_users(
    tags: *mut bindings::codetag_bytes,
    count: usize,
    can_sleep: bool,
) -> usize {
    let Some(locked) = read_tags(can_sleep) else {
        return 0;
    };
    if count == 0 {
        return 0;
    }
    // SAFETY: `tags` is valid for `count` writes; zeroes are a valid
    // `codetag_bytes`, so the slice is initialised.
    let slots = unsafe {
        ptr::write_bytes(tags, 0, count);
        core::slice::from_raw_parts_mut(tags, count)
    };
    top_users(&locked, slots)
}

/// How many tags `show_mem()` prints.
const SHOW_MEM_TAGS: usize = 10;

/// Prints the tags that have the most bytes allocated, for `show_mem()`:
/// "Memory allocations:" and a row per tag, its size in human units. Gives
/// up (prints nothing) rather than wait for a module load or unload without
/// `can_sleep`.
///
/// The module list stays locked until the rows are printed: a module load
/// may meanwhile reclaim an unloaded module's tags, which frees their
/// counters and strings and unmaps their memory.
#[no_mangle]
pub extern "C" fn alloc_tag_show_top_users(can_sleep: bool) {
    let Some(locked) = read_tags(can_sleep) else {
        return;
    };
    let mut slots = [bindings::codetag_bytes {
        ct: ptr::null_mut(),
        bytes: 0,
    }; SHOW_MEM_TAGS];
    let n = top_users(&locked, &mut slots);
    if n == 0 {
        return;
    }
    // SAFETY: A static, NUL-terminated format without arguments.
    unsafe { bindings::_printk(c_str!("\x015Memory allocations:\n").as_char_ptr()) };
    for slot in slots.iter().take(n) {
        // SAFETY: `top_users` gave tags listed under the lock `locked`
        // still holds.
        let ct = unsafe { CodeTag::from_raw(slot.ct) };
        let counters = alloc_tag(ct).read();
        let mut size = [0u8; 10];
        // SAFETY: `size` is writable for its length; the result is always
        // NUL-terminated.
        unsafe {
            bindings::string_get_size(
                counters.bytes,
                1,
                bindings::string_size_units_STRING_UNITS_2,
                size.as_mut_ptr().cast(),
                size.len() as _,
            )
        };
        let size = size.as_ptr().cast::<c_char>();
        // SAFETY: The formats' conversions match the arguments; the strings
        // are NUL-terminated and the tag's live while the lock is held.
        unsafe {
            match ct.modname() {
                Some(module) => bindings::_printk(
                    c_str!("\x015%12s %8llu %s:%u [%s] func:%s\n").as_char_ptr(),
                    size,
                    counters.calls,
                    ct.filename().as_char_ptr(),
                    ct.lineno(),
                    module.as_char_ptr(),
                    ct.function().as_char_ptr(),
                ),
                None => bindings::_printk(
                    c_str!("\x015%12s %8llu %s:%u func:%s\n").as_char_ptr(),
                    size,
                    counters.calls,
                    ct.filename().as_char_ptr(),
                    ct.lineno(),
                    ct.function().as_char_ptr(),
                ),
            }
        };
    }
}

/// The iteration state of one `/proc/allocinfo` read.
struct AllocInfo {
    ty: &'static Type,
    cur: Cursor,
    print_header: bool,
}

/// Returns the `seq_file`'s iteration state.
///
/// # Safety
///
/// `m` is valid and `m->private` was set by [`allocinfo_start`] and not yet
/// freed.
unsafe fn allocinfo_private<'a>(m: *mut bindings::seq_file) -> &'a mut AllocInfo {
    // SAFETY: Per the safety requirements `private` is a live `AllocInfo`
    // that only this read uses.
    unsafe { &mut *(*m).private.cast::<AllocInfo>() }
}

/// `seq_operations` callback of `/proc/allocinfo`.
///
/// # Safety
///
/// `m` and `pos` are valid (seq_file calls this).
unsafe extern "C" fn allocinfo_start(
    m: *mut bindings::seq_file,
    pos: *mut bindings::loff_t,
) -> *mut c_void {
    let Some(ty) = alloc_tag_type() else {
        return ptr::null_mut();
    };
    // SAFETY: seq_file passes a valid position.
    let mut skip = unsafe { *pos };
    let state = AllocInfo {
        ty,
        cur: Cursor::START,
        print_header: skip == 0,
    };
    let Ok(state) = KBox::new(state, GFP_KERNEL) else {
        // SAFETY: `m` is valid; `allocinfo_stop` sees NULL and does nothing.
        unsafe { (*m).private = ptr::null_mut() };
        return ptr::null_mut();
    };
    let state = KBox::into_raw(state);
    // SAFETY: `m` is valid; the state is freed by `allocinfo_stop`.
    unsafe { (*m).private = state.cast() };
    // Held until `allocinfo_stop`, which seq_file always calls.
    ty.lock().read().leak();
    // SAFETY: `state` was just allocated and is only used by this read.
    let state = unsafe { &mut *state };
    loop {
        // SAFETY: The lock is held and the cursor only moves here.
        let ct = unsafe { ty.advance(&mut state.cur) };
        if ct.is_null() {
            return ptr::null_mut();
        }
        if skip == 0 {
            return ptr::from_mut(state).cast();
        }
        skip -= 1;
    }
}

/// `seq_operations` callback of `/proc/allocinfo`.
///
/// # Safety
///
/// `m` and `pos` are valid and `m->private` was set by [`allocinfo_start`].
unsafe extern "C" fn allocinfo_next(
    m: *mut bindings::seq_file,
    v: *mut c_void,
    pos: *mut bindings::loff_t,
) -> *mut c_void {
    // SAFETY: seq_file passes the state `allocinfo_start` returned in `v`
    // and set as `private`, and a valid position.
    let state = unsafe {
        *pos += 1;
        allocinfo_private(m)
    };
    // SAFETY: The lock is held from `allocinfo_start` to `allocinfo_stop`.
    let ct = unsafe { state.ty.advance(&mut state.cur) };
    if ct.is_null() {
        ptr::null_mut()
    } else {
        v
    }
}

/// `seq_operations` callback of `/proc/allocinfo`.
///
/// # Safety
///
/// `m` is valid (seq_file calls this after every start).
unsafe extern "C" fn allocinfo_stop(m: *mut bindings::seq_file, _v: *mut c_void) {
    // SAFETY: `m` is valid.
    let state = unsafe { (*m).private }.cast::<AllocInfo>();
    if state.is_null() {
        return;
    }
    // SAFETY: `state` came from `KBox::into_raw` in `allocinfo_start`, and
    // that start took the read hold released here.
    unsafe {
        (*m).private = ptr::null_mut();
        let state = KBox::from_raw(state);
        state.ty.lock().read_unlock();
    }
}

/// `seq_operations` callback of `/proc/allocinfo`.
///
/// # Safety
///
/// `m` is valid, `m->private` was set by [`allocinfo_start`] and its cursor is on a tag.
unsafe extern "C" fn allocinfo_show(m: *mut bindings::seq_file, _v: *mut c_void) -> c_int {
    // SAFETY: `show` is called between `start` and `stop` with the state set.
    let state = unsafe { allocinfo_private(m) };
    // SAFETY: The cursor is on a valid tag (`start`/`next` returned it).
    let ct = unsafe { CodeTag::from_raw(state.cur.ct) };
    let counters = alloc_tag(ct).read();
    let row = format::Row {
        bytes: counters.bytes as i64,
        calls: counters.calls,
        tag: codetag::text(ct),
    };
    // SAFETY: `m` is valid and `buf[count..size]` is its free space, which
    // is what `seq_get_buf()` hands out.
    let (free, m) = unsafe {
        let m = &mut *m;
        let free =
            core::slice::from_raw_parts_mut(m.buf.cast::<u8>().add(m.count), m.size - m.count);
        (free, m)
    };
    let mut buf = format::Buf::new(free);
    let mut written = Ok(());
    if state.print_header {
        written = format::write_header(&mut buf);
    }
    let written = written.and_then(|()| format::write_row(&mut buf, &row));
    match written {
        Ok(()) => {
            state.print_header = false;
            m.count += buf.len();
        }
        // Like `seq_commit(m, -1)`: seq_file retries with a larger buffer.
        Err(_) => m.count = m.size,
    }
    0
}

/// The `seq_operations` of `/proc/allocinfo`.
#[repr(transparent)]
struct SeqOps(bindings::seq_operations);

// SAFETY: Read-only table of functions.
unsafe impl Sync for SeqOps {}

static ALLOCINFO_SEQ_OPS: SeqOps = SeqOps(bindings::seq_operations {
    start: Some(allocinfo_start),
    next: Some(allocinfo_next),
    stop: Some(allocinfo_stop),
    show: Some(allocinfo_show),
});

/// The sysctl table: `vm.mem_profiling` and `vm.mem_profiling_compressed`.
#[repr(transparent)]
struct Sysctl([bindings::ctl_table; 2]);

// SAFETY: The sysctl core only reads the table; `data` points to the keys,
// which are `Sync`.
unsafe impl Sync for Sysctl {}

const fn mem_profiling_sysctl(mode: bindings::umode_t) -> Sysctl {
    Sysctl([
        bindings::ctl_table {
            procname: c_str!("mem_profiling").as_char_ptr(),
            data: ptr::addr_of!(mem_alloc_profiling_key).cast_mut().cast(),
            maxlen: 0,
            mode,
            proc_handler: Some(proc_mem_profiling),
            poll: ptr::null_mut(),
            extra1: ptr::null_mut(),
            extra2: ptr::null_mut(),
        },
        // Where page tag references live is decided at boot: read-only.
        bindings::ctl_table {
            procname: c_str!("mem_profiling_compressed").as_char_ptr(),
            data: ptr::addr_of!(bindings::mem_profiling_compressed)
                .cast_mut()
                .cast(),
            maxlen: 0,
            mode: 0o444,
            proc_handler: Some(bindings::proc_do_static_key),
            poll: ptr::null_mut(),
            extra1: ptr::null_mut(),
            extra2: ptr::null_mut(),
        },
    ])
}

/// `proc_do_static_key()`, refusing to switch the key once profiling was
/// shut down, and taking the boot parameter's form `{0|1},compressed` too:
/// the sysctl core writes the command line's `sysctl.vm.mem_profiling=`
/// value again after boot.
///
/// Every write needs what 6.12 requires (`CAP_SYS_ADMIN`, checked first),
/// is serialised with [`shutdown_mem_profiling`], and goes through
/// `proc_do_static_key()`, which takes `static_key_mutex` and honours the
/// file position: a comma form is handed to it as its first token.
///
/// # Safety
///
/// Called by the sysctl core with valid arguments.
unsafe extern "C" fn proc_mem_profiling(
    table: *const bindings::ctl_table,
    write: c_int,
    buffer: *mut c_void,
    lenp: *mut usize,
    ppos: *mut bindings::loff_t,
) -> c_int {
    if write == 0 {
        // SAFETY: The arguments are the sysctl core's, passed on.
        return unsafe { bindings::proc_do_static_key(table, write, buffer, lenp, ppos) };
    }
    // SAFETY: No requirements.
    if !unsafe { bindings::capable(bindings::CAP_SYS_ADMIN as c_int) } {
        return EPERM.to_errno();
    }
    let _serialised = profiling_lock();
    if !PROFILING_SUPPORT.load(Ordering::Relaxed) {
        return EPERM.to_errno();
    }
    // SAFETY: For writes the sysctl core passes `*lenp` bytes of kernel
    // memory at `buffer`, and a valid position.
    let (text, pos) = unsafe {
        (
            core::slice::from_raw_parts(buffer.cast::<u8>(), *lenp),
            *ppos,
        )
    };
    if pos != 0 || !text.contains(&b',') {
        // SAFETY: The arguments are the sysctl core's, passed on.
        return unsafe { bindings::proc_do_static_key(table, write, buffer, lenp, ppos) };
    }
    // The mode after the comma is decided at boot: it must be the one in
    // force. The first token may be any spelling `kstrtobool()` reads.
    let value = text.strip_suffix(b"\n").unwrap_or(text);
    let enable = match param::parse(value) {
        Ok(s) if !s.permanently_disabled() && s.compressed == compressed_key().is_enabled() => {
            s.enabled()
        }
        _ => return EINVAL.to_errno(),
    };
    let mut digit = [if enable { b'1' } else { b'0' }];
    let mut len = digit.len();
    // SAFETY: `proc_do_static_key()` only reads a written buffer, here the
    // one byte of `digit`, and `len` and `ppos` are valid.
    let ret = unsafe {
        bindings::proc_do_static_key(table, write, digit.as_mut_ptr().cast(), &mut len, ppos)
    };
    if ret == 0 {
        // The whole value was taken, as the sysctl core reports.
        // SAFETY: The sysctl core's valid pointers.
        unsafe {
            *ppos = pos + text.len() as bindings::loff_t;
            *lenp = text.len();
        }
    }
    ret
}

/// `vm.mem_profiling` when it can be switched.
static SYSCTL_RW: Sysctl = mem_profiling_sysctl(if cfg!(CONFIG_MEM_ALLOC_PROFILING_DEBUG) {
    0o444
} else {
    0o644
});
/// `vm.mem_profiling` after `=never`: read-only.
static SYSCTL_RO: Sysctl = mem_profiling_sysctl(0o444);

#[link_section = ".init.text"]
fn sysctl_init(writable: bool) {
    let table = if writable { &SYSCTL_RW } else { &SYSCTL_RO };
    // SAFETY: The table is static and well formed; the names are static.
    unsafe {
        bindings::__register_sysctl_init(
            c_str!("vm").as_char_ptr(),
            table.0.as_ptr().cast_mut(),
            c_str!("memory_allocation_profiling_sysctls").as_char_ptr(),
            table.0.len(),
        )
    };
}

#[link_section = ".init.text"]
fn procfs_init() {
    // SAFETY: The name and operations are static; no parent, no data.
    let entry = unsafe {
        bindings::proc_create_seq_private(
            c_str!("allocinfo").as_char_ptr(),
            0o400,
            ptr::null_mut(),
            &ALLOCINFO_SEQ_OPS.0,
            0,
            ptr::null_mut(),
        )
    };
    if entry.is_null() {
        pr_err!("failed to create /proc/allocinfo\n");
    }
    ALLOCINFO.store(entry, Ordering::Release);
}

/// The initcall: registers the allocation tag type, the sysctl and
/// `/proc/allocinfo`, and reserves the module tag area.
///
/// It runs at `postcore_initcall()` level: after execmem (a
/// `core_initcall()` on some architectures) and debugfs are set up, and
/// before `rootfs_initcall()` lets `request_module()` run the usermode
/// helper, so no module loads before the type and the area exist. Without
/// them module tags would have nowhere to live: if either cannot be had,
/// profiling is shut down before any module loads.
#[no_mangle]
#[link_section = ".init.text"]
extern "C" fn alloc_tag_init() -> c_int {
    match KBox::pin_init(new_mutex!((), "alloc_tag_profiling"), GFP_KERNEL) {
        // SAFETY: The mutex is never moved or freed: it is leaked here.
        Ok(lock) => PROFILING_LOCK.store(
            KBox::into_raw(unsafe { core::pin::Pin::into_inner_unchecked(lock) }),
            Ordering::Release,
        ),
        Err(_) => {
            pr_err!("cannot allocate the profiling lock; disabling memory allocation profiling\n");
            shutdown_mem_profiling(false);
        }
    }
    #[cfg(CONFIG_MODULES)]
    let desc = bindings::codetag_type_desc {
        section: c_str!("alloc_tags").as_char_ptr(),
        tag_size: size_of::<bindings::alloc_tag>(),
        module_load: Some(module_area::alloc_tag_module_load),
        module_unload: Some(module_area::alloc_tag_module_unload),
        needs_section_mem: Some(module_area::needs_section_mem),
        alloc_section_mem: Some(module_area::alloc_section_mem),
        free_section_mem: Some(module_area::free_section_mem),
        module_replaced: Some(module_area::module_replaced),
    };
    #[cfg(not(CONFIG_MODULES))]
    let desc = bindings::codetag_type_desc {
        section: c_str!("alloc_tags").as_char_ptr(),
        tag_size: size_of::<bindings::alloc_tag>(),
        module_load: None,
        module_unload: None,
        needs_section_mem: None,
        alloc_section_mem: None,
        free_section_mem: None,
        module_replaced: None,
    };
    // Writable unless the boot parameter said never; writes are refused
    // (EPERM) if profiling is shut down later.
    sysctl_init(PROFILING_SUPPORT.load(Ordering::Relaxed));
    let ty = match Type::register(&desc) {
        Ok(ty) => ty,
        Err(e) => {
            pr_err!(
                "cannot register the allocation tag type ({:?}); disabling memory allocation profiling\n",
                e
            );
            shutdown_mem_profiling(false);
            return e.to_errno();
        }
    };
    ALLOC_TAG_TYPE.store(ptr::from_ref(ty).cast_mut(), Ordering::Release);
    procfs_init();
    #[cfg(CONFIG_MODULES)]
    module_area::init();
    0
}

// `postcore_initcall()` of built-in code (see `alloc_tag_init`): an
// initcall entry, stored as an offset like every initcall on this
// architecture.
#[cfg(CONFIG_HAVE_ARCH_PREL32_RELOCATIONS)]
core::arch::global_asm!(
    ".section \".initcall2.init\", \"a\"",
    "__initcall_alloc_tag_init:",
    ".long alloc_tag_init - .",
    ".previous",
);
#[cfg(not(CONFIG_HAVE_ARCH_PREL32_RELOCATIONS))]
#[link_section = ".initcall2.init"]
#[used]
static ALLOC_TAG_INITCALL: extern "C" fn() -> c_int = alloc_tag_init;
