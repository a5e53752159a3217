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
    ffi::c_int,
    mem::size_of,
    ptr,
    sync::atomic::{AtomicBool, AtomicU32, Ordering},
};
use kernel::{
    alloc::{flags::GFP_KERNEL, KBox},
    alloc_tag::{
        boot_param::{Boot, Param, Setup},
        codetag::{TagPosition, TagWalk, Tags, Type},
        notice_unprefixed,
        pgtag::{self, COMPRESSED_KEY},
        published::Published,
        seq_file::{ProcEntry, ProcIoctlFile, SeqIoctl, SeqRecords},
        static_key::StaticKey,
        sysctl::{capable, Entry, Handler, ProcCall, Table},
        uapi, Shared, Tag,
    },
    bindings, c_str, export_symbol,
    ffi::c_char,
    fmt, new_mutex,
    prelude::*,
    str::{BStr, CStr},
    sync::{lock::mutex::MutexBackend, lock::Guard, Mutex},
    uaccess::UserSlice,
};

pub mod codetag;
pub mod filter;
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

/// Whether allocations are being profiled; C tests it inline in every hook
/// and in `alloc_hooks()`.
#[no_mangle]
pub static mem_alloc_profiling_key: StaticKey =
    StaticKey::new(cfg!(CONFIG_MEM_ALLOC_PROFILING_ENABLED_BY_DEFAULT));

// C declares the key as a `struct static_key_true` or `_false`: same layout.
const _: () = assert!(size_of::<StaticKey>() == size_of::<bindings::static_key_true>());
// Exported: `alloc_hooks()` tests it, in modules too.
export_symbol!(mem_alloc_profiling_key);

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
    COMPRESSED_KEY
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
fn apply_compressed(boot: &Boot) {
    let compressed = COMPRESSED.load(Ordering::Relaxed);
    let bits = COMPRESSED_BITS.load(Ordering::Relaxed);
    if !pgtag::compressed_setup(boot, compressed, bits) {
        PROFILING_SUPPORT.store(false, Ordering::Relaxed);
        if mem_alloc_profiling_key.is_enabled() {
            mem_alloc_profiling_key.disable();
        }
    }
}

/// Every page has its page_ext now: mm/pgtag/ marks the pages allocated
/// before (debugging).
extern "C" fn init_page_alloc_tagging() {
    pgtag::page_ext_ready();
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

/// `early_param("sysctl.vm.mem_profiling", ...)`.
#[link_section = ".init.setup"]
#[used]
static EARLY_PARAM: Param = Param::early::<MemProfilingParam>(c_str!("sysctl.vm.mem_profiling"));

/// `__setup("alloc_tag.module_tags=", ...)`.
#[cfg(CONFIG_MODULES)]
#[link_section = ".init.setup"]
#[used]
static MODULE_TAGS_PARAM: Param = Param::late::<ModuleTagsParam>(c_str!("alloc_tag.module_tags="));

/// `early_param("alloc_tag.compressed_bits", ...)`: a debugging knob, so
/// that tests can see what happens when tags do not fit.
#[cfg(CONFIG_MEM_ALLOC_PROFILING_DEBUG)]
#[link_section = ".init.setup"]
#[used]
static COMPRESSED_BITS_PARAM: Param =
    Param::early::<CompressedBitsParam>(c_str!("alloc_tag.compressed_bits"));

/// `alloc_tag.compressed_bits=`: at most this many bits of `page->flags`
/// for tag references.
#[cfg(CONFIG_MEM_ALLOC_PROFILING_DEBUG)]
struct CompressedBitsParam;

#[cfg(CONFIG_MEM_ALLOC_PROFILING_DEBUG)]
impl Setup for CompressedBitsParam {
    #[link_section = ".init.text"]
    fn setup(value: Option<&CStr>, boot: &Boot) -> c_int {
        match value.and_then(|v| param::parse_compressed_bits(v.as_bytes())) {
            Some(bits) => COMPRESSED_BITS.store(bits, Ordering::Relaxed),
            None => {
                pr_err!("alloc_tag.compressed_bits needs a number of bits from 1 to 64; ignored\n");
                return EINVAL.to_errno();
            }
        }
        apply_compressed(boot);
        0
    }
}

/// `alloc_tag.module_tags=`: the module tag area's capacity in tags.
#[cfg(CONFIG_MODULES)]
struct ModuleTagsParam;

#[cfg(CONFIG_MODULES)]
impl Setup for ModuleTagsParam {
    #[link_section = ".init.text"]
    fn setup(value: Option<&CStr>, _boot: &Boot) -> c_int {
        // `__setup()` values are never NULL; read one as empty.
        let value = value.map_or(&b""[..], CStr::as_bytes);
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
}

/// `sysctl.vm.mem_profiling=`; see [`param::parse`] for the grammar. A bad
/// value is reported, and the built-in default stays in force.
struct MemProfilingParam;

impl Setup for MemProfilingParam {
    #[link_section = ".init.text"]
    fn setup(value: Option<&CStr>, boot: &Boot) -> c_int {
        let Some(value) = value.map(CStr::as_bytes) else {
            pr_err!("sysctl.vm.mem_profiling needs a value: 0, 1 or never\n");
            return EINVAL.to_errno();
        };
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
        apply_compressed(boot);
        0
    }
}

/// The allocation tag type, set once by the initcall.
static ALLOC_TAG_TYPE: Published<Type> = Published::new();

/// `/proc/allocinfo`, until [`shutdown_mem_profiling`] removes it.
static ALLOCINFO: ProcEntry = ProcEntry::new();

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
static PROFILING_LOCK: Published<Mutex<()>> = Published::new();

/// Takes [`PROFILING_LOCK`], if it exists yet.
fn profiling_lock() -> Option<Guard<'static, (), MutexBackend>> {
    PROFILING_LOCK.get().map(Mutex::lock)
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
        ALLOCINFO.remove();
    }
}

fn alloc_tag_type() -> Option<&'static Type> {
    ALLOC_TAG_TYPE.get()
}

/// A place in a ranking of tags by bytes: `alloc_tag_top_users()`'s
/// `struct codetag_bytes`, or a tag with its bytes for `show_mem()`.
trait TopSlot<'a>: top::Ranked {
    /// An unfilled slot.
    const EMPTY: Self;
    /// `tag`, with `bytes` allocated.
    fn of(tag: &'a Tag, bytes: i64) -> Self;
}

impl top::Ranked for bindings::codetag_bytes {
    fn bytes(&self) -> i64 {
        self.bytes
    }
}

impl TopSlot<'_> for bindings::codetag_bytes {
    const EMPTY: Self = bindings::codetag_bytes {
        ct: ptr::null_mut(),
        bytes: 0,
    };

    fn of(tag: &Tag, bytes: i64) -> Self {
        bindings::codetag_bytes {
            ct: tag.ct().as_ptr(),
            bytes,
        }
    }
}

impl top::Ranked for (Option<&Tag>, i64) {
    fn bytes(&self) -> i64 {
        self.1
    }
}

impl<'a> TopSlot<'a> for (Option<&'a Tag>, i64) {
    const EMPTY: Self = (None, 0);

    fn of(tag: &'a Tag, bytes: i64) -> Self {
        (Some(tag), bytes)
    }
}

/// Fills `slots` with the tags of `tags` that have the most bytes allocated,
/// largest first, and returns how many it filled.
fn top_users<'a, S: TopSlot<'a>>(tags: &'a Tags<'_>, slots: &mut [S]) -> usize {
    slots.fill_with(|| S::EMPTY);
    let mut top = top::TopN::new(slots);
    for tag in tags.alloc_tags() {
        top.offer(S::of(tag, tag.read().bytes as i64));
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
    let mut slots = [(None, 0); SHOW_MEM_TAGS];
    let n = top_users(&locked, &mut slots);
    if n == 0 {
        return;
    }
    notice_unprefixed(fmt!("Memory allocations:\n"));
    for tag in slots.iter().take(n).filter_map(|s| s.0) {
        let ct = tag.ct();
        let counters = tag.read();
        let (size, calls) = (counters.size_text(), counters.calls);
        let (file, line, func) = (ct.filename(), ct.lineno(), ct.function());
        match ct.modname() {
            Some(module) => notice_unprefixed(fmt!(
                "{size:>12} {calls:>8} {file}:{line} [{module}] func:{func}\n"
            )),
            None => notice_unprefixed(fmt!("{size:>12} {calls:>8} {file}:{line} func:{func}\n")),
        }
    }
}

/// One pass of a `/proc/allocinfo` read: the tags, locked for reading
/// until the pass ends, and whether the header is still to be written.
struct AllocInfo {
    walk: TagWalk<'static>,
    print_header: bool,
}

impl SeqRecords for AllocInfo {
    fn start(pos: u64) -> Option<KBox<Self>> {
        let walk = alloc_tag_type()?.read().walk();
        let mut state = KBox::new(
            AllocInfo {
                walk,
                print_header: pos == 0,
            },
            GFP_KERNEL,
        )
        .ok()?;
        for _ in 0..=pos {
            state.walk.advance_tag()?;
        }
        Some(state)
    }

    fn next(&mut self) -> bool {
        self.walk.advance_tag().is_some()
    }

    fn show(&mut self, out: &mut [u8]) -> Option<usize> {
        let tag = self.walk.current_tag()?;
        let (ct, counters) = (tag.ct(), tag.read());
        let row = format::Row {
            bytes: counters.bytes as i64,
            calls: counters.calls,
            tag: codetag::text(ct),
        };
        let mut buf = format::Buf::new(out);
        if self.print_header {
            format::write_header(&mut buf).ok()?;
        }
        format::write_row(&mut buf, &row).ok()?;
        self.print_header = false;
        Some(buf.len())
    }
}

/// What an open `/proc/allocinfo` keeps between its ioctls: the filter of
/// its last `ALLOCINFO_IOC_GET_AT` and where its walk stands.
#[derive(Default)]
struct IoctlState {
    filter: Option<filter::Filter>,
    at: Option<TagPosition>,
}

impl IoctlState {
    /// Whether the state's filter takes `tag`.
    fn takes(&self, tag: &Tag) -> bool {
        let Some(f) = &self.filter else {
            return true;
        };
        let ct = tag.ct();
        let site = filter::Site {
            modname: ct.modname().map(CStr::as_bytes),
            function: ct.function().as_bytes(),
            filename: ct.filename().as_bytes(),
            lineno: ct.lineno(),
            accurate: ct.is_accurate(),
        };
        f.matches(&site, || tag.read().bytes)
    }
}

/// A name field of the uapi as bytes (`c_char` is `u8` in the kernel).
fn field_bytes(field: &[c_char; filter::STR_SIZE]) -> [u8; filter::STR_SIZE] {
    *field
}

/// A name as the uapi gives it: its suffix, NUL-padded.
fn name_field(name: &CStr) -> [c_char; filter::STR_SIZE] {
    let mut bytes = [0u8; filter::STR_SIZE];
    filter::copy_name(&mut bytes, name.as_bytes());
    bytes
}

/// What the ioctls give of a tag.
fn tag_data(tag: &Tag) -> bindings::allocinfo_tag_data {
    let (ct, counters) = (tag.ct(), tag.read());
    bindings::allocinfo_tag_data {
        tag: bindings::allocinfo_tag {
            modname: name_field(ct.modname().unwrap_or(c_str!(""))),
            function: name_field(ct.function()),
            filename: name_field(ct.filename()),
            lineno: ct.lineno().into(),
        },
        counter: bindings::allocinfo_counter {
            bytes: counters.bytes,
            calls: counters.calls,
            accurate: ct.is_accurate().into(),
            pad: [0; 7],
        },
    }
}

/// `ALLOCINFO_IOC_GET_AT`: positions the walk on the `pos`-th tag (from 0)
/// the filter takes, keeps the filter for `GET_NEXT`, and returns the tag.
fn ioctl_get_at(state: &mut IoctlState, ty: &Type, arg: UserSlice) -> Result<i32> {
    let (mut reader, mut writer) = arg.reader_writer();
    let mut params: bindings::allocinfo_get_at = reader.read()?;
    let f = &params.filter;
    let asked = filter::Filter {
        mask: f.mask,
        modname: field_bytes(&f.fields.modname),
        function: field_bytes(&f.fields.function),
        filename: field_bytes(&f.fields.filename),
        lineno: f.fields.lineno,
        inaccurate: f.inaccurate,
        min_size: f.min_size,
        max_size: f.max_size,
    };
    asked.validate().map_err(|_| EINVAL)?;
    let tags = ty.read();
    if params.pos >= tags.count() as u64 {
        return Err(ENOENT);
    }
    state.filter = (asked.mask != 0).then_some(asked);
    let mut walk = tags.walk();
    let mut skip = params.pos;
    let data = loop {
        let Some(tag) = walk.advance_tag() else {
            state.at = Some(walk.position());
            return Err(ENOENT);
        };
        if state.takes(tag) {
            if skip == 0 {
                break tag_data(tag);
            }
            skip -= 1;
        }
    };
    state.at = Some(walk.position());
    // Not under the lock: the copy may fault.
    drop(walk);
    params.data = data;
    writer.write(&params)?;
    Ok(0)
}

/// `ALLOCINFO_IOC_GET_NEXT`: the next tag the filter takes, from where the
/// walk stands (the first, if it stands nowhere); at the end `ENOENT`, and
/// the next call starts again.
fn ioctl_get_next(state: &mut IoctlState, ty: &Type, arg: UserSlice) -> Result<i32> {
    let tags = ty.read();
    let mut walk = match &state.at {
        Some(at) => tags.walk_from(at),
        None => tags.walk(),
    };
    let data = loop {
        match walk.advance_tag() {
            Some(tag) if state.takes(tag) => break tag_data(tag),
            Some(_) => {}
            None => {
                state.at = None;
                return Err(ENOENT);
            }
        }
    };
    state.at = Some(walk.position());
    drop(walk);
    arg.writer().write(&data)?;
    Ok(0)
}

impl SeqIoctl for AllocInfo {
    type State = IoctlState;

    fn ioctl(state: &mut IoctlState, cmd: u32, arg: usize) -> Result<i32> {
        let ty = alloc_tag_type().ok_or(ENOENT)?;
        match cmd {
            uapi::ALLOCINFO_IOC_CONTENT_ID => {
                let id = ty.read().content_id();
                let out = UserSlice::new(arg, size_of::<bindings::allocinfo_content_id>());
                out.writer().write(&bindings::allocinfo_content_id { id })?;
                Ok(0)
            }
            uapi::ALLOCINFO_IOC_GET_AT => ioctl_get_at(
                state,
                ty,
                UserSlice::new(arg, size_of::<bindings::allocinfo_get_at>()),
            ),
            uapi::ALLOCINFO_IOC_GET_NEXT => ioctl_get_next(
                state,
                ty,
                UserSlice::new(arg, size_of::<bindings::allocinfo_tag_data>()),
            ),
            _ => Err(ENOTTY),
        }
    }
}

/// The `proc_ops` of `/proc/allocinfo`: read through `AllocInfo`'s
/// `seq_operations`, and its ioctls.
static ALLOCINFO_PROC_OPS: ProcIoctlFile<AllocInfo> = ProcIoctlFile::VTABLE;

/// The sysctl table: `vm.mem_profiling` (`mode`) and
/// `vm.mem_profiling_compressed`, read-only: where page tag references live
/// is decided at boot.
const fn mem_profiling_sysctl(mode: u16) -> Table<2> {
    Table::new([
        Entry::static_key_with::<MemProfilingSysctl>(
            c_str!("mem_profiling"),
            &mem_alloc_profiling_key,
            mode,
        ),
        Entry::static_key(c_str!("mem_profiling_compressed"), COMPRESSED_KEY, 0o444),
    ])
}

/// The handler of `vm.mem_profiling`.
struct MemProfilingSysctl;

/// `proc_do_static_key()`, refusing to switch the key once profiling was
/// shut down, and taking the boot parameter's form `{0|1},compressed` too:
/// the sysctl core writes the command line's `sysctl.vm.mem_profiling=`
/// value again after boot.
///
/// Every write needs what 6.12 requires (`CAP_SYS_ADMIN`, checked first),
/// is serialised with [`shutdown_mem_profiling`], and goes through
/// `proc_do_static_key()`, which takes `static_key_mutex` and honours the
/// file position: a comma form is handed to it as its first token.
impl Handler for MemProfilingSysctl {
    fn handle(call: ProcCall) -> c_int {
        if !call.is_write() {
            return call.do_static_key();
        }
        if !capable(bindings::CAP_SYS_ADMIN) {
            return EPERM.to_errno();
        }
        let _serialised = profiling_lock();
        if !PROFILING_SUPPORT.load(Ordering::Relaxed) {
            return EPERM.to_errno();
        }
        let text = call.written();
        if call.pos() != 0 || !text.contains(&b',') {
            return call.do_static_key();
        }
        // The mode after the comma is decided at boot: it must be the one in
        // force. The first token may be any spelling `kstrtobool()` reads.
        let value = text.strip_suffix(b"\n").unwrap_or(text);
        match param::parse(value) {
            Ok(s) if !s.permanently_disabled() && s.compressed == compressed_key().is_enabled() => {
                call.do_static_key_as(s.enabled())
            }
            _ => EINVAL.to_errno(),
        }
    }
}

/// `vm.mem_profiling` when it can be switched.
static SYSCTL_RW: Table<2> = mem_profiling_sysctl(if cfg!(CONFIG_MEM_ALLOC_PROFILING_DEBUG) {
    0o444
} else {
    0o644
});
/// `vm.mem_profiling` after `=never`: read-only.
static SYSCTL_RO: Table<2> = mem_profiling_sysctl(0o444);

#[link_section = ".init.text"]
fn sysctl_init(writable: bool) {
    let table = if writable { &SYSCTL_RW } else { &SYSCTL_RO };
    table.register_init(c_str!("vm"), c_str!("memory_allocation_profiling_sysctls"));
}

#[link_section = ".init.text"]
fn procfs_init() {
    if ALLOCINFO_PROC_OPS
        .create(&ALLOCINFO, c_str!("allocinfo"), 0o400)
        .is_err()
    {
        pr_err!("failed to create /proc/allocinfo\n");
    }
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
        Ok(lock) => {
            PROFILING_LOCK.publish_pinned(lock);
        }
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
    ALLOC_TAG_TYPE.publish(ty);
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
