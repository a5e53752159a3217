// SPDX-License-Identifier: GPL-2.0

//! Code tags and code tag types.
//!
//! A code tag records a place in the source (`file:line`, function, module).
//! Tags of one type sit in one ELF section, in the kernel image and in every
//! module; a [`Type`] keeps the list of those sections, one entry for the
//! kernel and one for each loaded module that has tags.
//!
//! C header: [`include/linux/codetag.h`](srctree/include/linux/codetag.h).

use super::{
    rwsem::{ReadGuard, RwSem, WriteGuard},
    Tag,
};
use crate::{
    alloc::{flags::GFP_KERNEL, KBox, KVec},
    bindings,
    error::{code::*, Result},
    fmt,
    prelude::*,
    str::{CStr, CString},
    types::Opaque,
};
use core::{
    cell::UnsafeCell,
    ptr,
    sync::atomic::{AtomicPtr, Ordering},
};

/// A code tag (`struct codetag`).
///
/// # Invariants
///
/// `filename` and `function` are valid NUL-terminated strings, and so is
/// `modname` unless it is NULL; all live as long as the tag. They and
/// `lineno` are written when the tag is built, and after that only by
/// [`CodeTag::keep_strings`] with the type's lock held for writing, which
/// the callers of the accessors hold for reading (or got the tag from a
/// holder): the accessors read them as plain fields. `flags` may be set by
/// C at any time ([`CodeTag::is_accurate`]).
#[repr(transparent)]
pub struct CodeTag(Opaque<bindings::codetag>);

impl CodeTag {
    /// Borrows a C code tag.
    ///
    /// # Safety
    ///
    /// `ptr` points to a valid `struct codetag` that lives for `'a` and whose
    /// strings are valid for `'a` (as `CODE_TAG_INIT` makes them).
    #[inline]
    pub unsafe fn from_raw<'a>(ptr: *const bindings::codetag) -> &'a Self {
        // SAFETY: `CodeTag` is a transparent wrapper; validity is the
        // caller's promise.
        unsafe { &*ptr.cast() }
    }

    /// Returns the raw pointer to the C tag.
    #[inline]
    pub fn as_ptr(&self) -> *mut bindings::codetag {
        self.0.get()
    }

    /// Points the tag at copies of its strings, which must outlive it: for
    /// a tag that stays after its module's memory (and strings) are gone.
    ///
    /// # Safety
    ///
    /// The caller holds the lock of the tag's type for writing; `filename`
    /// and `function` are valid NUL-terminated strings, and so is `modname`
    /// unless NULL, for as long as the tag is used.
    pub unsafe fn keep_strings(
        &self,
        filename: *const crate::ffi::c_char,
        function: *const crate::ffi::c_char,
        modname: *const crate::ffi::c_char,
    ) {
        let raw = self.0.get();
        // SAFETY: `raw` is valid; with the write hold no reader of this type
        // is looking, and the new strings meet the type invariant.
        unsafe {
            (*raw).filename = filename;
            (*raw).function = function;
            (*raw).modname = modname;
        }
    }

    /// Returns the line number.
    #[inline]
    pub fn lineno(&self) -> u32 {
        // SAFETY: A valid tag; by the type invariant `lineno` is not written
        // meanwhile.
        unsafe { (*self.0.get()).lineno }
    }

    /// Returns whether the tag's counters missed no allocation: `false`
    /// once slab could not give an object a slot for its tag reference
    /// (`CODETAG_FLAG_INACCURATE`, set by C's `alloc_tag_set_inaccurate()`).
    #[inline]
    pub fn is_accurate(&self) -> bool {
        // SAFETY: `flags` is a field of the valid tag; C sets its bit with
        // `WRITE_ONCE()` at any time, so it is read as `READ_ONCE()` does.
        let flags = unsafe { ptr::read_volatile(ptr::addr_of!((*self.0.get()).flags)) };
        flags & bindings::CODETAG_FLAG_INACCURATE == 0
    }

    /// Returns the source file name.
    #[inline]
    pub fn filename(&self) -> &CStr {
        // SAFETY: By the type invariant the field is not written meanwhile
        // and the string is valid as long as `self`.
        unsafe { CStr::from_char_ptr((*self.0.get()).filename) }
    }

    /// Returns the function name.
    #[inline]
    pub fn function(&self) -> &CStr {
        // SAFETY: By the type invariant the field is not written meanwhile
        // and the string is valid as long as `self`.
        unsafe { CStr::from_char_ptr((*self.0.get()).function) }
    }

    /// Returns the module name, or `None` for built-in code.
    #[inline]
    pub fn modname(&self) -> Option<&CStr> {
        // SAFETY: A valid tag; by the type invariant `modname` is not
        // written meanwhile.
        let name = unsafe { (*self.0.get()).modname };
        // SAFETY: By the type invariant a non-NULL name is valid as long as
        // `self`.
        (!name.is_null()).then(|| unsafe { CStr::from_char_ptr(name) })
    }
}

/// The tags of one type in the kernel image or in one module
/// (`struct codetag_module`).
///
/// # Invariants
///
/// `start..stop` is an array of tags of the owning type's `tag_size`, valid
/// while the module is registered with the type. `module` is NULL for the
/// kernel image and for tags `kept` after their module was unloaded.
/// `kept_name` is NUL-terminated. An entry is boxed, so it does not move
/// while it is listed: kept tags point into `kept_name` and
/// `kept_strings`.
pub struct Module {
    module: *mut bindings::module,
    start: *mut u8,
    stop: *mut u8,
    kept: bool,
    /// The module's name, for tags kept after it.
    kept_name: [u8; KEPT_NAME_LEN],
    /// Copies of the file and function names of tags kept after their
    /// module.
    kept_strings: KVec<u8>,
    /// Whether the type's `module_unload` callback asked to keep the tags
    /// ([`Unlisting::keep`]), which made their strings outlive the module.
    keep_asked: bool,
}

/// Room for a module's name: C's `MODULE_NAME_LEN` is `64 - sizeof(long)`,
/// a macro bindgen cannot evaluate.
const KEPT_NAME_LEN: usize = 64;

/// What kept tags show for a file or function name when no copy of it
/// could be had.
const UNKNOWN: &CStr = crate::c_str!("(unknown)");

impl Module {
    /// Borrows the module entry C got from a type callback.
    ///
    /// # Safety
    ///
    /// `ptr` came from this file (a `module_load`/`module_unload` callback
    /// argument or an iterator) and the type's lock is held for `'a`.
    #[inline]
    pub unsafe fn from_raw<'a>(ptr: *const bindings::codetag_module) -> &'a Self {
        // SAFETY: C's `struct codetag_module` is this type, per the
        // safety requirements.
        unsafe { &*ptr.cast() }
    }

    /// Returns the pointer C sees as `struct codetag_module *`.
    #[inline]
    pub fn as_ptr(&self) -> *mut bindings::codetag_module {
        ptr::from_ref(self).cast_mut().cast()
    }

    /// Returns the kernel module, or NULL for the kernel image.
    #[inline]
    pub fn module(&self) -> *mut bindings::module {
        self.module
    }

    /// Returns the kernel module, `None` for the kernel image and for tags
    /// kept after their module was unloaded.
    pub fn kmodule(&self) -> Option<&KModule> {
        // SAFETY: By the type invariant a non-NULL `module` is valid while
        // the entry is registered, which the borrow of `self` covers.
        (!self.module.is_null()).then(|| unsafe { KModule::from_raw(self.module) })
    }

    /// Returns whether these tags belong to a module that was unloaded
    /// while they were still in use.
    #[inline]
    pub fn is_unloaded(&self) -> bool {
        self.kept
    }

    /// Returns the address of the first tag.
    #[inline]
    pub fn start(&self) -> *mut u8 {
        self.start
    }

    /// Returns the number of tags of size `tag_size`.
    fn len(&self, tag_size: usize) -> usize {
        (self.stop as usize - self.start as usize) / tag_size
    }

    /// Returns the tag after `prev` (or the first one), or NULL at the end.
    /// Slots for Rust call sites not filled in yet are left out
    /// ([`super::site`]).
    fn next_tag(&self, prev: *mut u8, tag_size: usize) -> *mut u8 {
        let mut next = if prev.is_null() {
            self.start
        } else {
            prev.wrapping_add(tag_size)
        };
        // SAFETY: By the type invariant a tag below `stop` is a valid tag
        // of the array, which starts with its code tag.
        while next < self.stop && !unsafe { super::site::is_filled(next.cast()) } {
            next = next.wrapping_add(tag_size);
        }
        if next < self.stop {
            next
        } else {
            ptr::null_mut()
        }
    }

    /// Iterates over every tag of the section, slots for Rust call sites
    /// not filled in yet too.
    fn all_tags(&self, tag_size: usize) -> impl Iterator<Item = &CodeTag> + '_ {
        (0..self.len(tag_size)).map(move |i| {
            // SAFETY: By the type invariant the tags of `start..stop` are
            // valid while `self` is registered.
            unsafe { CodeTag::from_raw(self.start.wrapping_add(i * tag_size).cast()) }
        })
    }

    /// Iterates over this module's tags, given the type's `tag_size`.
    pub fn tags(&self, tag_size: usize) -> impl Iterator<Item = &CodeTag> + '_ {
        let mut at = ptr::null_mut();
        core::iter::from_fn(move || {
            at = self.next_tag(at, tag_size);
            // SAFETY: By the type invariant `at` points to a valid tag inside
            // the array, which lives as long as `self` is registered.
            (!at.is_null()).then(|| unsafe { CodeTag::from_raw(at.cast()) })
        })
    }
}

/// What a [`Type`]'s lock protects.
struct Modules {
    /// Slots indexed by module id; a freed slot is reused by the next load,
    /// lowest first, so ids behave as C's IDR did. Slot 0 is the kernel.
    slots: KVec<Option<KBox<Module>>>,
    /// Number of tags over all slots.
    count: usize,
    /// Changes (goes up) whenever a module's tags are added or removed:
    /// with the same id, the same tags are listed in the same slots.
    content_id: u64,
}

/// A code tag type (`struct codetag_type`): the tags of one ELF section.
///
/// Types are registered once and never freed.
///
/// # Examples
///
/// A second type over the kernel's allocation tags sees the same tags, in
/// the same order, as the C iterator, and its lock works from both sides.
///
/// ```
/// use kernel::{alloc_tag::codetag::Type, bindings, c_str};
///
/// let desc = bindings::codetag_type_desc {
///     section: c_str!("alloc_tags").as_char_ptr(),
///     tag_size: core::mem::size_of::<bindings::alloc_tag>(),
///     module_load: None,
///     module_unload: None,
///     needs_section_mem: None,
///     alloc_section_mem: None,
///     free_section_mem: None,
///     module_replaced: None,
/// };
/// let ty = Type::register(&desc)?;
/// let tags = ty.read();
/// let n = tags.iter().count();
/// assert!(n > 100);
/// assert_eq!(n, tags.count());
/// assert!(tags.iter().all(|(m, ct)| m.module().is_null()
///     && ct.modname().is_none()
///     && ct.lineno() > 0
///     && !ct.filename().is_empty()
///     && !ct.function().is_empty()));
///
/// // SAFETY: `ty` is registered and its lock is held by `tags`.
/// let mut it = unsafe { bindings::codetag_get_ct_iter(ty.as_ptr()) };
/// for (_, ct) in tags.iter() {
///     // SAFETY: As above; `it` only moves here.
///     assert_eq!(unsafe { bindings::codetag_next_ct(&mut it) }, ct.as_ptr());
/// }
/// // SAFETY: As above.
/// assert!(unsafe { bindings::codetag_next_ct(&mut it) }.is_null());
///
/// // Readers share the lock; a writer excludes them.
/// // SAFETY: `ty` is registered; each hold taken is given back.
/// unsafe {
///     assert!(bindings::codetag_trylock_module_list(ty.as_ptr()));
///     bindings::codetag_lock_module_list(ty.as_ptr(), false);
///     drop(tags);
///     let w = ty.lock().write();
///     assert!(!bindings::codetag_trylock_module_list(ty.as_ptr()));
///     assert!(ty.try_read().is_none());
///     drop(w);
///     bindings::codetag_lock_module_list(ty.as_ptr(), true);
///     bindings::codetag_lock_module_list(ty.as_ptr(), false);
/// }
/// assert!(ty.try_read().is_some());
///
/// // A section the kernel does not have cannot be registered.
/// let missing = bindings::codetag_type_desc {
///     section: c_str!("no_such_tags").as_char_ptr(),
///     ..desc
/// };
/// assert_eq!(Type::register(&missing).err(), Some(EINVAL));
///
/// // The second type goes again: module loads list tags in one type only.
/// let types = || {
///     let mut seen = 0;
///     // SAFETY: Only this test unregisters a type, and not meanwhile.
///     unsafe { Type::for_each(|_| seen += 1) };
///     seen
/// };
/// let before = types();
/// // SAFETY: Nothing holds `ty` or its tags any more, and no module loads
/// // while the boot's doctests run (user space has not started).
/// unsafe { Type::unregister(ty) };
/// assert_eq!(types(), before - 1);
/// # Ok::<(), Error>(())
/// ```
///
/// # Invariants
///
/// `modules` is only accessed with `lock` held: shared for reading,
/// exclusive for writing. If `alloc`, every tag of the type is the `ct`
/// field of a `struct alloc_tag`.
#[pin_data]
pub struct Type {
    #[pin]
    lock: RwSem,
    desc: bindings::codetag_type_desc,
    modules: UnsafeCell<Modules>,
    /// Whether the type's tags are allocation tags.
    alloc: bool,
}

// SAFETY: `modules` is protected by `lock` (type invariant); `desc` is
// read-only after registration and its pointers are to static data and
// functions.
unsafe impl Sync for Type {}
// SAFETY: See `Sync`; nothing in a type is tied to a thread.
unsafe impl Send for Type {}

/// Most types that can be registered; 6.12 registers one (allocation tags).
const MAX_TYPES: usize = 4;

/// The registered types, in registration order; NULL for unused entries.
static TYPES: [AtomicPtr<Type>; MAX_TYPES] = [const { AtomicPtr::new(ptr::null_mut()) }; MAX_TYPES];

/// Iterates over the registered types.
fn types() -> impl Iterator<Item = &'static Type> {
    TYPES.iter().filter_map(|slot| {
        let t = slot.load(Ordering::Acquire);
        // SAFETY: Registered types are leaked boxes that are never freed,
        // and the acquire load pairs with the release store that published
        // the fully initialised type.
        (!t.is_null()).then(|| unsafe { &*t })
    })
}

/// Cursor over the tags of a type: C's `struct codetag_iterator` without
/// the type.
#[derive(Clone, Copy)]
pub struct Cursor {
    /// Slot of the current module.
    pub mod_id: usize,
    /// The current module, NULL before the first tag.
    pub cmod: *const Module,
    /// The current tag, NULL before the first one and at the end.
    pub ct: *mut bindings::codetag,
}

impl Cursor {
    /// A cursor before the first tag.
    pub const START: Cursor = Cursor {
        mod_id: 0,
        cmod: ptr::null(),
        ct: ptr::null_mut(),
    };
}

impl Type {
    /// Registers a type and the tags of its section in the kernel image.
    ///
    /// Fails with `EINVAL` for a zero tag size or when the section's bounds
    /// cannot be found, `ENOMEM`, or `ENOSPC` when all type slots are used.
    pub fn register(desc: &bindings::codetag_type_desc) -> Result<&'static Type> {
        if desc.tag_size == 0 || desc.section.is_null() {
            return Err(EINVAL);
        }
        // SAFETY: Not NULL (checked above); a static string, as for
        // `Type::section`.
        let section = unsafe { CStr::from_char_ptr(desc.section) };
        // INVARIANT: `DEFINE_ALLOC_TAG()` puts `struct alloc_tag`s, and
        // nothing else, in the "alloc_tags" sections.
        let alloc = section.as_bytes() == b"alloc_tags"
            && desc.tag_size == core::mem::size_of::<bindings::alloc_tag>();
        let t = KBox::pin_init(
            pin_init!(Type {
                lock <- RwSem::new(
                    crate::c_str!("codetag_type.mod_lock"),
                    crate::static_lock_class!()
                ),
                desc: *desc,
                modules: UnsafeCell::new(Modules {
                    slots: KVec::new(),
                    count: 0,
                    content_id: 0,
                }),
                alloc,
            }),
            GFP_KERNEL,
        )?;
        t.add_module(ptr::null_mut())?;
        // SAFETY: The type stays pinned: the box is only turned back into a
        // box (and dropped) below if it was never published.
        let t = KBox::into_raw(unsafe { core::pin::Pin::into_inner_unchecked(t) });
        for slot in &TYPES {
            if slot
                .compare_exchange(ptr::null_mut(), t, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                // SAFETY: Published types are never freed.
                return Ok(unsafe { &*t });
            }
        }
        // SAFETY: `t` came from `KBox::into_raw` above and was not published.
        let t = unsafe { KBox::from_raw(t) };
        pr_err!("codetag: no room for the type of section {}\n", t.section());
        Err(ENOSPC)
    }

    /// Unregisters a type [`Type::register`] returned, and frees it.
    ///
    /// # Safety
    ///
    /// Nothing uses `ty` any more: no reference to it or to its tags is
    /// held, and no module is loaded or unloaded meanwhile (module loads
    /// and unloads walk the registered types).
    pub unsafe fn unregister(ty: &'static Type) {
        let t = ptr::from_ref(ty).cast_mut();
        for slot in &TYPES {
            if slot
                .compare_exchange(t, ptr::null_mut(), Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                // SAFETY: `t` came from `KBox::into_raw` in `register` and is
                // no longer published; per the safety requirements nothing
                // uses it.
                drop(unsafe { KBox::from_raw(t) });
                return;
            }
        }
    }

    /// Calls `f` with every registered type.
    ///
    /// # Safety
    ///
    /// No type is unregistered meanwhile.
    pub unsafe fn for_each(mut f: impl FnMut(&'static Type)) {
        types().for_each(&mut f);
    }

    /// Borrows a type from the pointer C holds.
    ///
    /// # Safety
    ///
    /// `ptr` was returned by `codetag_register_type()` (so by [`Type::register`]).
    #[inline]
    pub unsafe fn from_raw(ptr: *const bindings::codetag_type) -> &'static Type {
        // SAFETY: Per the safety requirements `ptr` is a leaked, never
        // freed `Type`.
        unsafe { &*ptr.cast() }
    }

    /// Returns the pointer C sees as `struct codetag_type *`.
    #[inline]
    pub fn as_ptr(&self) -> *mut bindings::codetag_type {
        ptr::from_ref(self).cast_mut().cast()
    }

    /// Returns the lock that protects the list of modules.
    #[inline]
    pub fn lock(&self) -> &RwSem {
        &self.lock
    }

    /// Returns the size of one tag.
    #[inline]
    pub fn tag_size(&self) -> usize {
        self.desc.tag_size
    }

    /// Returns the section name.
    pub fn section(&self) -> &CStr {
        // SAFETY: `register` checked it is not NULL; it is a static string.
        unsafe { CStr::from_char_ptr(self.desc.section) }
    }

    /// Takes the lock for reading and gives access to the tags.
    pub fn read(&self) -> Tags<'_> {
        Tags {
            ty: self,
            _guard: self.lock.read(),
        }
    }

    /// Like [`Type::read`], but returns `None` instead of waiting.
    pub fn try_read(&self) -> Option<Tags<'_>> {
        Some(Tags {
            ty: self,
            _guard: self.lock.try_read()?,
        })
    }

    /// Moves `cur` to the next tag and returns it, NULL at the end; the
    /// step of `codetag_next_ct()`.
    ///
    /// # Safety
    ///
    /// The caller holds the lock (for reading or writing), and `cur` is
    /// [`Cursor::START`] or was only moved by this function, under the same
    /// hold of the lock or under an earlier one with the same content id
    /// (no slot changed since).
    pub unsafe fn advance(&self, cur: &mut Cursor) -> *mut bindings::codetag {
        // SAFETY: The caller holds the lock, so no writer changes `modules`.
        let slots = unsafe { &(*self.modules.get()).slots };
        let mut ct = ptr::null_mut();
        while let Some((id, m)) = slots
            .iter()
            .enumerate()
            .skip(cur.mod_id)
            .find_map(|(id, s)| s.as_deref().map(|m| (id, m)))
        {
            cur.mod_id = id;
            let prev = if ptr::eq(cur.cmod, m) {
                cur.ct.cast()
            } else {
                ptr::null_mut()
            };
            cur.cmod = m;
            ct = m.next_tag(prev, self.desc.tag_size);
            if !ct.is_null() {
                break;
            }
            cur.mod_id += 1;
        }
        cur.ct = ct.cast();
        cur.ct
    }

    /// Finds a section bound symbol (`__start_<section>` or
    /// `__stop_<section>`) in the kernel or in a module.
    fn symbol(&self, module: *mut bindings::module, prefix: &str) -> Result<usize> {
        let name = CString::try_from_fmt(fmt!("{}{}", prefix, self.section()))?;
        let value = if module.is_null() {
            // SAFETY: `name` is a valid NUL-terminated string.
            unsafe { bindings::kallsyms_lookup_name(name.as_char_ptr()) }
        } else {
            // SAFETY: `module` is a module being loaded, so its symbol table
            // is valid; `name` is a valid NUL-terminated string.
            unsafe { find_kallsyms_symbol_value(module, name.as_char_ptr()) }
        };
        Ok(value as usize)
    }

    /// Adds the tags of `module` (NULL: the kernel image) to the type.
    fn add_module(&self, module: *mut bindings::module) -> Result {
        let start = self.symbol(module, "__start_")?;
        let stop = self.symbol(module, "__stop_")?;
        if start == 0 || stop == 0 || start > stop || (stop - start) % self.desc.tag_size != 0 {
            pr_err!(
                "Failed to load code tags of type {} from the module {}: bad section bounds\n",
                self.section(),
                ModName(module)
            );
            return Err(EINVAL);
        }
        if start == stop {
            return Ok(());
        }
        // INVARIANT: The linker placed `start..stop` as the section of tags.
        let entry = KBox::new(
            Module {
                module,
                start: start as *mut u8,
                stop: stop as *mut u8,
                kept: false,
                kept_name: [0; KEPT_NAME_LEN],
                kept_strings: KVec::new(),
                keep_asked: false,
            },
            GFP_KERNEL,
        )?;
        let mut w = self.write();
        let modules = w.modules();
        let n = entry.len(self.desc.tag_size);
        let id = match modules.slots.iter().position(Option::is_none) {
            Some(id) => {
                modules.slots[id] = Some(entry);
                id
            }
            None => {
                modules.slots.push(Some(entry), GFP_KERNEL)?;
                modules.slots.len() - 1
            }
        };
        modules.count += n;
        modules.content_id += 1;
        let Some(load) = self.desc.module_load else {
            return Ok(());
        };
        let Some(m) = modules.slots.get(id).and_then(Option::as_deref) else {
            return Ok(());
        };
        // SAFETY: The callback was registered for this type; it gets the
        // type and entry pointers C expects, with the lock held for writing
        // as in 6.12.
        let ret = unsafe { load(self.as_ptr(), m.as_ptr()) };
        if ret < 0 {
            if let Some(slot) = modules.slots.get_mut(id) {
                *slot = None;
            }
            modules.count -= n;
            return Err(Error::from_errno(ret));
        }
        Ok(())
    }

    /// Removes `module`'s tags, or keeps them marked unloaded if its
    /// `module_unload` callback finds them in use; returns whether it did.
    fn remove_module(&self, module: *mut bindings::module) -> bool {
        let tag_size = self.desc.tag_size;
        let mut w = self.write();
        let modules = w.modules();
        let Some(slot) = modules.slots.iter_mut().find(|s| {
            s.as_ref()
                .is_some_and(|m| !m.module.is_null() && m.module == module)
        }) else {
            return false;
        };
        let mut unused = true;
        if let (Some(unload), Some(m)) = (self.desc.module_unload, slot.as_deref_mut()) {
            // SAFETY: As for `module_load`: matching type and entry, lock held.
            unused = unsafe { unload(self.as_ptr(), ptr::from_mut(m).cast()) };
        }
        // Kept only if the callback made the strings outlive the module.
        let keep = !unused && slot.as_deref().is_some_and(|m| m.keep_asked);
        if !keep {
            if let Some(m) = slot.take() {
                modules.count -= m.len(tag_size);
                modules.content_id += 1;
                // Unlisted, and the module's code does not run again.
                free_idle_counters(self, &m);
            }
        } else if let Some(m) = slot.as_mut() {
            m.module = ptr::null_mut();
            m.kept = true;
        }
        keep
    }

    /// Calls `f` with the `desc` of every type whose module output section
    /// (`.codetag.<section>`) is `name`.
    fn for_section<R>(name: &CStr, f: impl FnOnce(&'static Type) -> R) -> Option<R> {
        let name = name.as_bytes().strip_prefix(b".codetag.")?;
        types().find(|t| t.section().as_bytes() == name).map(f)
    }

    /// Takes the lock for writing: the module list may change.
    pub fn write(&self) -> Writer<'_> {
        Writer {
            ty: self,
            _guard: self.lock.write(),
        }
    }
}

/// Write access to a type's modules.
pub struct Writer<'a> {
    ty: &'a Type,
    _guard: WriteGuard<'a>,
}

impl Writer<'_> {
    fn modules(&mut self) -> &mut Modules {
        // SAFETY: The write hold makes this the only access (type invariant).
        unsafe { &mut *self.ty.modules.get() }
    }

    /// Returns whether the tags of an unloaded module kept at `start`
    /// count nothing any more: allocation tags whose bytes and calls are
    /// all zero (other types' tags count nothing). `false` if no tags are
    /// kept there.
    pub fn unloaded_idle(&mut self, start: *const u8) -> bool {
        let ty = self.ty;
        self.modules()
            .slots
            .iter()
            .flatten()
            .find(|m| m.kept && ptr::eq(m.start, start))
            .is_some_and(|m| idle(ty, m))
    }

    /// Drops the kept tags of an unloaded module that start at `start` if
    /// they count nothing any more ([`Writer::unloaded_idle`]), with their
    /// counters and the copies of their strings; returns whether it did.
    pub fn forget_unloaded(&mut self, start: *const u8) -> bool {
        let ty = self.ty;
        let modules = self.modules();
        let Some(slot) = modules.slots.iter_mut().find(|s| {
            s.as_deref()
                .is_some_and(|m| m.kept && ptr::eq(m.start, start) && idle(ty, m))
        }) else {
            return false;
        };
        if let Some(m) = slot.take() {
            modules.count -= m.len(ty.desc.tag_size);
            modules.content_id += 1;
            // The entry is unlisted, its module is gone and its tags count
            // nothing: nothing can count with them again.
            free_idle_counters(ty, &m);
        }
        true
    }
}

/// `tags`, of a module entry of `ty`, as allocation tags: none unless `ty`
/// is the allocation tag type.
fn as_alloc_tags<'a>(
    ty: &Type,
    tags: impl Iterator<Item = &'a CodeTag> + 'a,
) -> impl Iterator<Item = &'a Tag> + 'a {
    let alloc = ty.alloc;
    tags.take_while(move |_| alloc)
        // SAFETY: The type's tags are allocation tags (type invariant).
        .map(|ct| unsafe { Tag::from_codetag(ct) })
}

/// The allocation tags of `m`, an entry of `ty`.
fn alloc_tags_of<'a>(ty: &Type, m: &'a Module) -> impl Iterator<Item = &'a Tag> + 'a {
    as_alloc_tags(ty, m.tags(ty.desc.tag_size))
}

/// Every allocation tag of `m`, an entry of `ty`, with the slots for Rust
/// call sites not filled in.
fn all_alloc_tags_of<'a>(ty: &Type, m: &'a Module) -> impl Iterator<Item = &'a Tag> + 'a {
    as_alloc_tags(ty, m.all_tags(ty.desc.tag_size))
}

/// Whether the allocation tags of `m`, an entry of `ty`, count nothing.
fn idle(ty: &Type, m: &Module) -> bool {
    alloc_tags_of(ty, m).all(|t| t.read() == Default::default())
}

/// Frees the counters [`Tag::alloc_counters`] gave the allocation tags of
/// `m`, an entry just unlisted from `ty` whose module's code no longer
/// runs, that count nothing.
///
/// An unloaded module allocates nothing more, so a tag's bytes only go
/// down, on every CPU (a split of a page it accounts adds calls, never
/// bytes). Each per-CPU read of the bytes is then at least that CPU's value
/// at the end of the reads, so reads that sum to zero mean the tag
/// accounted nothing by then (the sum cannot go below zero): no page or
/// object refers to it, and nothing can change its counters any more.
///
/// A tag still counting keeps its counters: profiling was shut down before
/// its module ran (its tags were not kept), so nothing counts with them
/// again; a few bytes are lost.
fn free_idle_counters(ty: &Type, m: &Module) {
    for t in all_alloc_tags_of(ty, m) {
        if t.read() == Default::default() {
            // SAFETY: The caller holds the type's lock for writing (its
            // `Writer` or `remove_module`); the tag is unlisted and nothing
            // counts with it any more (above).
            unsafe { t.free_counters() };
        }
    }
}

/// A module's entry as a type's `module_load` callback gets it: the type's
/// lock is held for writing and none of the module's code has run yet.
pub struct Listing<'a> {
    ty: &'a Type,
    m: &'a Module,
}

impl<'a> Listing<'a> {
    /// Takes the arguments of a `module_load` callback.
    ///
    /// # Safety
    ///
    /// `cttype` and `cmod` are the arguments the codetag core passed to a
    /// type's `module_load` callback, which lasts for `'a`.
    pub unsafe fn from_raw(
        cttype: *mut bindings::codetag_type,
        cmod: *mut bindings::codetag_module,
    ) -> Self {
        // SAFETY: Per the safety requirements: a registered type and one of
        // its entries, the lock held for the callback.
        unsafe {
            Self {
                ty: Type::from_raw(cttype),
                m: Module::from_raw(cmod),
            }
        }
    }

    /// The type.
    pub fn ty(&self) -> &'a Type {
        self.ty
    }

    /// The module's entry.
    pub fn entry(&self) -> &'a Module {
        self.m
    }

    /// The module's tags.
    pub fn tags(&self) -> impl Iterator<Item = &'a CodeTag> + 'a {
        self.m.tags(self.ty.desc.tag_size)
    }

    /// The size of the module's section in tags, slots for Rust call
    /// sites not filled in yet too.
    pub fn section_len(&self) -> usize {
        self.m.len(self.ty.desc.tag_size)
    }

    /// Gives every allocation tag of the module, and every slot for its
    /// Rust call sites, per-CPU counters of its own
    /// ([`Tag::alloc_counters`]), all or none: `ENOMEM` if one could not be
    /// had, and those given before are freed again.
    pub fn alloc_counters(&self) -> Result {
        for (i, t) in all_alloc_tags_of(self.ty, self.m).enumerate() {
            // SAFETY: The write lock is held and the module's code has not
            // run (the callback's requirements).
            if let Err(e) = unsafe { t.alloc_counters() } {
                for t in all_alloc_tags_of(self.ty, self.m).take(i) {
                    // SAFETY: As above; nothing counted with them yet.
                    unsafe { t.free_counters() };
                }
                return Err(e);
            }
        }
        Ok(())
    }
}

/// A module's entry as a type's `module_unload` callback gets it: the
/// type's lock is held for writing and the module's code does not run
/// again. The entry is unlisted after the callback, its tags' counters
/// freed where they count nothing, unless the callback asks to keep it
/// ([`Unlisting::keep`]).
pub struct Unlisting<'a> {
    ty: &'a Type,
    m: &'a mut Module,
}

impl<'a> Unlisting<'a> {
    /// Takes the arguments of a `module_unload` callback.
    ///
    /// # Safety
    ///
    /// `cttype` and `cmod` are the arguments the codetag core passed to a
    /// type's `module_unload` callback, which lasts for `'a`.
    pub unsafe fn from_raw(
        cttype: *mut bindings::codetag_type,
        cmod: *mut bindings::codetag_module,
    ) -> Self {
        // SAFETY: Per the safety requirements: a registered type and one of
        // its entries, the lock held for writing for the callback, and the
        // core does not touch the entry meanwhile.
        unsafe {
            Self {
                ty: Type::from_raw(cttype),
                m: &mut *cmod.cast::<Module>(),
            }
        }
    }

    /// The module's entry.
    pub fn entry(&self) -> &Module {
        self.m
    }

    /// The module's tags.
    pub fn tags(&self) -> impl Iterator<Item = &CodeTag> + '_ {
        self.m.tags(self.ty.desc.tag_size)
    }

    /// The module's allocation tags (none unless the type is the
    /// allocation tag type).
    pub fn alloc_tags(&self) -> impl Iterator<Item = &Tag> + '_ {
        alloc_tags_of(self.ty, self.m)
    }

    /// Keeps the tags listed after their module, marked unloaded, for as
    /// long as the type has them ([`Writer::forget_unloaded`]), the
    /// callback returning `false`. Their strings, which go with the
    /// module's memory, are replaced by copies the entry owns: the module's
    /// name in the entry itself, so it never fails; the file and function
    /// names in one buffer if it can be had, else "(unknown)". Returns
    /// whether the names were copied.
    pub fn keep(self) -> bool {
        let m = self.m;
        let tag_size = self.ty.desc.tag_size;
        let name = m.kmodule().map_or(UNKNOWN, KModule::name);
        let mut kept_name = [0u8; KEPT_NAME_LEN];
        // The last byte stays NUL (type invariant).
        for (d, &s) in kept_name
            .iter_mut()
            .zip(name.as_bytes().iter().take(KEPT_NAME_LEN - 1))
        {
            *d = s;
        }
        m.kept_name = kept_name;
        // One copy of each file name (tags of one file follow each other)
        // and of each function name.
        let mut total = 0;
        let mut prev = ptr::null();
        for ct in m.tags(tag_size) {
            if !ptr::eq(ct.filename().as_char_ptr(), prev) {
                total += ct.filename().len_with_nul();
                prev = ct.filename().as_char_ptr();
            }
            total += ct.function().len_with_nul();
        }
        let copied = KVec::<u8>::with_capacity(total, GFP_KERNEL).is_ok_and(|strings| {
            m.kept_strings = strings;
            true
        });
        let modname = m.kept_name.as_ptr().cast::<crate::ffi::c_char>();
        // The capacity is exact, so the bytes never move: each tag can
        // point at its copies as they are made.
        let base = m.kept_strings.as_mut_ptr().cast::<crate::ffi::c_char>();
        let strings = &mut m.kept_strings;
        let (mut prev, mut file) = (ptr::null(), UNKNOWN.as_char_ptr());
        let tags = {
            let (start, stop) = (m.start, m.stop);
            (0..(stop as usize - start as usize) / tag_size).map(move |i| {
                // SAFETY: Tags of the entry (type invariant of `Module`).
                unsafe { CodeTag::from_raw(start.wrapping_add(i * tag_size).cast()) }
            })
        };
        for ct in tags {
            // Slots for Rust call sites not filled in stay empty: the
            // module no longer runs, so none is filled in any more.
            // SAFETY: A tag of the entry.
            if !unsafe { super::site::is_filled(ct.as_ptr()) } {
                continue;
            }
            let mut function = UNKNOWN.as_char_ptr();
            if copied {
                let mut copy = |s: &CStr| {
                    let at = strings.len();
                    // Within the capacity: no allocation, cannot fail.
                    let _ = strings.extend_from_slice(s.as_bytes_with_nul(), GFP_KERNEL);
                    base.wrapping_add(at).cast_const()
                };
                if !ptr::eq(ct.filename().as_char_ptr(), prev) {
                    prev = ct.filename().as_char_ptr();
                    file = copy(ct.filename());
                }
                function = copy(ct.function());
            }
            // SAFETY: The write lock is held. The copies are NUL-terminated
            // and live in the entry, boxed, until it is unlisted and
            // dropped; so does the module's name; "(unknown)" is static.
            unsafe { ct.keep_strings(file, function, modname) };
        }
        m.keep_asked = true;
        copied
    }
}

/// Read access to a type's tags, holding its lock.
pub struct Tags<'a> {
    ty: &'a Type,
    _guard: ReadGuard<'a>,
}

impl<'a> Tags<'a> {
    /// Returns the number of tags over the kernel and all modules. Slots
    /// for Rust call sites ([`super::site`]) count once filled in, which
    /// they may be at any time: the allocation tags are counted one by one.
    pub fn count(&self) -> usize {
        if self.ty.alloc {
            return self.iter().count();
        }
        // SAFETY: `self` holds the type's lock for reading.
        unsafe { (*self.ty.modules.get()).count }
    }

    /// Walks the tags one at a time, holding the lock until the walk is
    /// dropped: for readers that keep their place between calls, like a
    /// `seq_file` pass.
    pub fn walk(self) -> TagWalk<'a> {
        TagWalk {
            tags: self,
            cur: Cursor::START,
            ordinal: 0,
        }
    }

    /// Returns the id of the set of tags: it changes whenever a module's
    /// tags are added or removed (C's `codetag_get_content_id()`).
    pub fn content_id(&self) -> u64 {
        // SAFETY: `self` holds the type's lock for reading.
        unsafe { (*self.ty.modules.get()).content_id }
    }

    /// Walks on from `at`, a place an earlier walk of this type left: from
    /// the same tag if no module's tags were added or removed since, else
    /// from the tag with the same number in the new list.
    pub fn walk_from(self, at: &TagPosition) -> TagWalk<'a> {
        if ptr::eq(at.ty, self.ty) && at.content_id == self.content_id() {
            // INVARIANT: `at.cur` was moved by `Type::advance` under an
            // earlier hold, and the content id says that no slot changed
            // since, so it still stands on a listed tag (or the start/end).
            return TagWalk {
                tags: self,
                cur: at.cur,
                ordinal: at.ordinal,
            };
        }
        let mut walk = self.walk();
        while walk.ordinal < at.ordinal && walk.advance().is_some() {}
        walk
    }

    /// Iterates over every allocation tag: none unless the type is the
    /// allocation tag type.
    pub fn alloc_tags(&self) -> impl Iterator<Item = &Tag> + '_ {
        let alloc = self.ty.alloc;
        self.iter()
            .take_while(move |_| alloc)
            // SAFETY: The type's tags are allocation tags (`alloc`, type
            // invariant of `Type`), listed while `self` holds the lock.
            .map(|(_, ct)| unsafe { Tag::from_codetag(ct) })
    }

    /// Iterates over every tag with the module it belongs to.
    pub fn iter(&self) -> impl Iterator<Item = (&Module, &CodeTag)> + '_ {
        let mut cur = Cursor::START;
        core::iter::from_fn(move || {
            // SAFETY: The read hold is kept by `self`; `cur` is only moved here.
            let ct = unsafe { self.ty.advance(&mut cur) };
            // SAFETY: A non-NULL result is a valid tag of a registered module,
            // which stays registered while the lock is held; so is its entry.
            (!ct.is_null()).then(|| unsafe { (&*cur.cmod, CodeTag::from_raw(ct)) })
        })
    }
}

/// A walk over a type's tags under the lock ([`Tags::walk`]).
///
/// # Invariants
///
/// `cur` is [`Cursor::START`] or was only moved by [`Type::advance`],
/// under the hold of `tags` or under an earlier hold with the same content
/// id; `ordinal` is how many tags it has stood on.
pub struct TagWalk<'a> {
    tags: Tags<'a>,
    cur: Cursor,
    ordinal: u64,
}

/// Where a [`TagWalk`] stood, kept after its lock is dropped so that a
/// later walk can go on from there ([`Tags::walk_from`]).
///
/// # Invariants
///
/// `cur` is only used again under the lock of `ty` with the same content
/// id, when it is valid (see [`Tags::walk_from`]).
#[derive(Clone, Copy)]
pub struct TagPosition {
    ty: *const Type,
    cur: Cursor,
    content_id: u64,
    ordinal: u64,
}

// SAFETY: The pointers are only followed under the type's lock, by whatever
// thread holds it (type invariant); types are never freed while in use.
unsafe impl Send for TagPosition {}
// SAFETY: As for `Send`; a shared position is only read.
unsafe impl Sync for TagPosition {}

impl TagWalk<'_> {
    /// Moves to the next tag and returns it, `None` at the end.
    pub fn advance(&mut self) -> Option<&CodeTag> {
        // SAFETY: `self.tags` holds the lock; by the type invariant the
        // cursor only moved under this hold. INVARIANT: moved here.
        let ct = unsafe { self.tags.ty.advance(&mut self.cur) };
        self.ordinal += u64::from(!ct.is_null());
        // SAFETY: A non-NULL result is a tag of a registered module, which
        // stays registered while the lock is held.
        (!ct.is_null()).then(|| unsafe { CodeTag::from_raw(ct) })
    }

    /// Moves to the next allocation tag and returns it, `None` at the end
    /// (at once unless the type is the allocation tag type).
    pub fn advance_tag(&mut self) -> Option<&Tag> {
        if !self.tags.ty.alloc {
            return None;
        }
        // SAFETY: The type's tags are allocation tags (type invariant of
        // `Type`), listed while the walk holds the lock.
        self.advance().map(|ct| unsafe { Tag::from_codetag(ct) })
    }

    /// Returns the allocation tag the walk stands on: `None` before the
    /// first, at the end, and unless the type is the allocation tag type.
    pub fn current_tag(&self) -> Option<&Tag> {
        let ct = self.current().filter(|_| self.tags.ty.alloc)?;
        // SAFETY: As in `advance_tag`.
        Some(unsafe { Tag::from_codetag(ct) })
    }

    /// Returns where the walk stands, to go on from there later.
    pub fn position(&self) -> TagPosition {
        TagPosition {
            ty: self.tags.ty,
            cur: self.cur,
            content_id: self.tags.content_id(),
            ordinal: self.ordinal,
        }
    }

    /// Returns the tag the walk stands on: `None` before the first and at
    /// the end.
    pub fn current(&self) -> Option<&CodeTag> {
        // SAFETY: As in `advance`: the cursor's tag, if any, is a tag the walk
        // reached under the lock it still holds.
        (!self.cur.ct.is_null()).then(|| unsafe { CodeTag::from_raw(self.cur.ct) })
    }
}

/// Prints a module's name, `(built-in)` for NULL.
struct ModName(*mut bindings::module);

impl core::fmt::Display for ModName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.0.is_null() {
            return f.write_str("(built-in)");
        }
        // SAFETY: A non-NULL module here is being loaded or unloaded, so it
        // is valid.
        core::fmt::Display::fmt(unsafe { KModule::from_raw(self.0) }, f)
    }
}

/// A kernel module that is being loaded or unloaded, as the module loader
/// hands it to the code tag callbacks.
///
/// # Invariants
///
/// The module is valid for the borrow, and its name is NUL-terminated.
#[repr(transparent)]
pub struct KModule(Opaque<bindings::module>);

impl KModule {
    /// Borrows a module the loader passed.
    ///
    /// # Safety
    ///
    /// `ptr` is a valid module, being loaded or unloaded, for `'a`.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::module) -> &'a Self {
        // SAFETY: Valid for `'a` per the safety requirements; the loader
        // NUL-terminates the name (`MODULE_NAME_LEN`). `KModule` is a
        // transparent wrapper.
        unsafe { &*ptr.cast::<Self>() }
    }

    /// Returns the pointer C knows the module by.
    pub fn as_ptr(&self) -> *mut bindings::module {
        self.0.get()
    }

    /// Returns the module's name.
    pub fn name(&self) -> &CStr {
        // SAFETY: By the type invariant the module is valid and its name
        // NUL-terminated.
        unsafe { CStr::from_char_ptr((*self.0.get()).name.as_ptr()) }
    }
}

impl core::fmt::Display for KModule {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(self.name(), f)
    }
}

// `struct module` holds an empty `struct mod_arch_specific` on x86, which
// the lint flags; the pointer is only passed through.
#[expect(improper_ctypes)]
extern "C" {
    // Declared in `kernel/module/internal.h`, which bindgen does not see:
    // the module loader's own symbol lookup, the one 6.12's codetag.c uses.
    fn find_kallsyms_symbol_value(
        module: *mut bindings::module,
        name: *const crate::ffi::c_char,
    ) -> crate::ffi::c_ulong;
}

/// Adds a module's tags to every type, like `codetag_load_module()`, before
/// any of the module's code runs.
///
/// Any failure fails the load, and the module's tags are removed from every
/// type again: a type's `module_load` callback refusing, no memory, or
/// section bounds that cannot be found in the module (reported; 6.12 let
/// such a module load, its tags counting with no counters behind them).
///
/// # Safety
///
/// `module` is NULL or a valid module that is being loaded.
pub unsafe fn load_module(module: *mut bindings::module) -> Result {
    if module.is_null() {
        return Ok(());
    }
    for (i, t) in types().enumerate() {
        if let Err(e) = t.add_module(module) {
            for t in types().take(i) {
                t.remove_module(module);
            }
            return Err(e);
        }
    }
    Ok(())
}

/// Removes a module's tags from every type, like `codetag_unload_module()`,
/// and tells each type with section memory to free it.
///
/// Tags found still in use by the type's `module_unload` callback stay,
/// marked unloaded, until the type forgets them.
///
/// # Safety
///
/// `module` is NULL or a valid module that is being unloaded.
pub unsafe fn unload_module(module: *mut bindings::module) {
    if module.is_null() {
        return;
    }
    // SAFETY: The module's code no longer runs, and its memory is there
    // until this returns.
    unsafe { super::site::forget_module(module) };
    // Let the module's pending `kfree_rcu()` calls finish first.
    // SAFETY: No requirements; it may sleep, as this caller may.
    unsafe { bindings::kvfree_rcu_barrier() };
    for t in types() {
        let used = t.remove_module(module);
        if let Some(free) = t.desc.free_section_mem {
            // SAFETY: The callback was registered for this type; `module`
            // is valid and its tags are no longer listed unless kept.
            unsafe { free(module, used) };
        }
    }
}

/// Returns whether a type places the module section `name` of `size` bytes,
/// aligned to `align`, in memory of its own
/// (`codetag_needs_module_section()`); the type may reserve that memory now.
///
/// # Safety
///
/// `module` is a valid module that is being loaded.
pub unsafe fn needs_section(
    module: *mut bindings::module,
    name: &CStr,
    size: usize,
    align: usize,
) -> bool {
    Type::for_section(name, |t| match t.desc.needs_section_mem {
        // SAFETY: The callback was registered for this type; `module` is valid.
        Some(needs) => unsafe { needs(module, size as _, align as _) },
        None => false,
    })
    .unwrap_or(false)
}

/// Gets memory for the module section `name` from its type
/// (`codetag_alloc_module_section()`): an address, an `ERR_PTR()`, or NULL
/// if no type places the section.
///
/// # Safety
///
/// `module` is a valid module that is being loaded, for which
/// [`needs_section`] said yes for this section.
pub unsafe fn alloc_section(
    module: *mut bindings::module,
    name: &CStr,
    size: usize,
    align: usize,
) -> *mut core::ffi::c_void {
    Type::for_section(name, |t| match t.desc.alloc_section_mem {
        // SAFETY: The callback was registered for this type; `module` is valid.
        Some(alloc) => unsafe { alloc(module, size as _, align as _) },
        None => ptr::null_mut(),
    })
    .unwrap_or(ptr::null_mut())
}

/// Frees the section memory of a module whose load failed
/// (`codetag_free_module_sections()`).
///
/// # Safety
///
/// `module` is a valid module whose tags are not listed by any type.
pub unsafe fn free_sections(module: *mut bindings::module) {
    for t in types() {
        if let Some(free) = t.desc.free_section_mem {
            // SAFETY: The callback was registered for this type; `module` is valid.
            unsafe { free(module, false) };
        }
    }
}

/// Tells the types that the module loader moved `struct module` from
/// `module` to `new` (`codetag_module_replaced()`).
///
/// # Safety
///
/// Both are valid modules being loaded.
pub unsafe fn module_replaced(module: *mut bindings::module, new: *mut bindings::module) {
    for t in types() {
        if let Some(replaced) = t.desc.module_replaced {
            // SAFETY: The callback was registered for this type; both are valid.
            unsafe { replaced(module, new) };
        }
    }
}
