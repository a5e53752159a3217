// SPDX-License-Identifier: GPL-2.0

//! The C ABI of `lib/codetag.c`, over [`kernel::alloc_tag::codetag`].
//!
//! C header: [`include/linux/codetag.h`](srctree/include/linux/codetag.h).

use crate::format::{self, Buf};
use core::ffi::{c_int, c_void};
use kernel::{
    alloc_tag::{
        codetag::{self, CodeTag, Cursor, Type},
        seq_file::SeqBuf,
    },
    bindings,
    ffi::{c_char, c_ulong},
    str::CStr,
};

/// Checks at compile time that an exported function has the type of the C
/// prototype bindgen generated from the header.
macro_rules! check_abi {
    ($($name:ident),* $(,)?) => {$(
        const _: () = {
            let _ = if true { bindings::$name } else { $name };
        };
    )*};
}

check_abi!(
    codetag_lock_module_list,
    codetag_trylock_module_list,
    codetag_get_ct_iter,
    codetag_next_ct,
    codetag_to_text,
    codetag_register_type,
);
#[cfg(CONFIG_MODULES)]
check_abi!(
    codetag_load_module,
    codetag_unload_module,
    codetag_needs_module_section,
    codetag_alloc_module_section,
    codetag_free_module_sections,
    codetag_module_replaced,
);

/// Takes (`lock`) or releases (`!lock`) a read hold on the type's module list.
///
/// # Safety
///
/// `cttype` was returned by [`codetag_register_type`]; a release matches an
/// earlier take by the same task.
#[no_mangle]
pub unsafe extern "C" fn codetag_lock_module_list(cttype: *mut bindings::codetag_type, lock: bool) {
    // SAFETY: `cttype` is a registered type, per the safety requirements.
    let ty = unsafe { Type::from_raw(cttype) };
    if lock {
        ty.lock().read().leak();
    } else {
        // SAFETY: The caller holds the read hold it took earlier.
        unsafe { ty.lock().read_unlock() };
    }
}

/// Takes a read hold on the type's module list if that does not wait.
///
/// # Safety
///
/// `cttype` was returned by [`codetag_register_type`].
#[no_mangle]
pub unsafe extern "C" fn codetag_trylock_module_list(cttype: *mut bindings::codetag_type) -> bool {
    // SAFETY: `cttype` is a registered type, per the safety requirements.
    let ty = unsafe { Type::from_raw(cttype) };
    ty.lock().try_read().map(|guard| guard.leak()).is_some()
}

/// Returns an iterator positioned before the type's first tag.
///
/// # Safety
///
/// Always safe to call; `unsafe` only to match the C prototype's binding.
#[no_mangle]
pub unsafe extern "C" fn codetag_get_ct_iter(
    cttype: *mut bindings::codetag_type,
) -> bindings::codetag_iterator {
    to_c(cttype, Cursor::START)
}

fn to_c(cttype: *mut bindings::codetag_type, cur: Cursor) -> bindings::codetag_iterator {
    bindings::codetag_iterator {
        cttype,
        cmod: cur.cmod.cast_mut().cast(),
        mod_id: cur.mod_id,
        ct: cur.ct,
    }
}

/// Moves the iterator to the next tag and returns it, or NULL at the end.
///
/// # Safety
///
/// `iter` is valid and came from [`codetag_get_ct_iter`] of a registered
/// type, and the caller has held that type's module list lock since then.
#[no_mangle]
pub unsafe extern "C" fn codetag_next_ct(
    iter: *mut bindings::codetag_iterator,
) -> *mut bindings::codetag {
    // SAFETY: `iter` is valid, per the safety requirements.
    let iter = unsafe { &mut *iter };
    // SAFETY: `iter.cttype` is a registered type, per the safety requirements.
    let ty = unsafe { Type::from_raw(iter.cttype) };
    let mut cur = Cursor {
        mod_id: iter.mod_id,
        cmod: iter.cmod.cast_const().cast(),
        ct: iter.ct,
    };
    // SAFETY: The lock has been held since the iterator was made, and the
    // cursor was only moved by `advance`.
    let ct = unsafe { ty.advance(&mut cur) };
    *iter = to_c(iter.cttype, cur);
    ct
}

/// Returns the tag's fields in the form the formatter takes.
pub(crate) fn text(ct: &CodeTag) -> format::Tag<'_> {
    format::Tag {
        file: ct.filename().as_bytes(),
        line: ct.lineno(),
        modname: ct.modname().map(|m| m.as_bytes()),
        function: ct.function().as_bytes(),
    }
}

/// Appends `file:line [module] func:name` to a `seq_buf`, like
/// `seq_buf_printf()`: on overflow the buffer is marked full.
///
/// # Safety
///
/// `out` is a valid, initialised `seq_buf` and `ct` a valid code tag.
#[no_mangle]
pub unsafe extern "C" fn codetag_to_text(out: *mut bindings::seq_buf, ct: *mut bindings::codetag) {
    // SAFETY: `out` is valid, initialised and ours, per the safety
    // requirements.
    let out = unsafe { SeqBuf::from_raw(out) };
    // SAFETY: `ct` is a valid code tag, per the safety requirements.
    let ct = unsafe { CodeTag::from_raw(ct) };
    out.append(|free| {
        let mut buf = Buf::new(free);
        format::write_tag(&mut buf, &text(ct)).ok()?;
        Some(buf.len())
    });
}

/// Registers a code tag type and the tags of its section in the kernel.
///
/// Returns the type, or an `ERR_PTR()`.
///
/// # Safety
///
/// `desc` is valid; its section name is a static string and its callbacks
/// stay valid forever.
#[no_mangle]
pub unsafe extern "C" fn codetag_register_type(
    desc: *const bindings::codetag_type_desc,
) -> *mut bindings::codetag_type {
    // SAFETY: `desc` is valid, per the safety requirements.
    match Type::register(unsafe { &*desc }) {
        Ok(ty) => ty.as_ptr(),
        Err(e) => e.to_errno() as isize as *mut bindings::codetag_type,
    }
}

/// Adds a module's tags to every type; called by the module loader, which
/// fails the load on an error.
///
/// # Safety
///
/// `module` is NULL or a module being loaded, not yet visible to others.
#[cfg(CONFIG_MODULES)]
#[no_mangle]
pub unsafe extern "C" fn codetag_load_module(module: *mut bindings::module) -> c_int {
    // SAFETY: `module` is NULL or being loaded, per the safety requirements.
    match unsafe { codetag::load_module(module) } {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Removes a module's tags from every type, or keeps those still in use;
/// called at module unload.
///
/// # Safety
///
/// `module` is NULL or a module being unloaded.
#[cfg(CONFIG_MODULES)]
#[no_mangle]
pub unsafe extern "C" fn codetag_unload_module(module: *mut bindings::module) {
    // SAFETY: `module` is NULL or being unloaded, per the safety requirements.
    unsafe { codetag::unload_module(module) }
}

/// Whether a code tag type places the module section `name` itself (and
/// reserves its memory now).
///
/// # Safety
///
/// `module` is a module being loaded; `name` a NUL-terminated string.
#[cfg(CONFIG_MODULES)]
#[no_mangle]
pub unsafe extern "C" fn codetag_needs_module_section(
    module: *mut bindings::module,
    name: *const c_char,
    size: c_ulong,
    align: c_ulong,
) -> bool {
    // SAFETY: `name` is a NUL-terminated string; `module` is being loaded.
    unsafe { codetag::needs_section(module, CStr::from_char_ptr(name), size, align) }
}

/// Memory for the module section `name` from its code tag type: an address
/// or an `ERR_PTR()`.
///
/// # Safety
///
/// As for [`codetag_needs_module_section`], which said yes for `name`.
#[cfg(CONFIG_MODULES)]
#[no_mangle]
pub unsafe extern "C" fn codetag_alloc_module_section(
    module: *mut bindings::module,
    name: *const c_char,
    size: c_ulong,
    align: c_ulong,
) -> *mut c_void {
    // SAFETY: As above.
    unsafe { codetag::alloc_section(module, CStr::from_char_ptr(name), size, align) }
}

/// Frees the section memory of a module whose load failed.
///
/// # Safety
///
/// `module` is a module being loaded whose tags are not listed.
#[cfg(CONFIG_MODULES)]
#[no_mangle]
pub unsafe extern "C" fn codetag_free_module_sections(module: *mut bindings::module) {
    // SAFETY: Per the safety requirements.
    unsafe { codetag::free_sections(module) }
}

/// The module loader moved `struct module` from `module` to `new_module`.
///
/// # Safety
///
/// Both are the same module being loaded, before and after the move.
#[cfg(CONFIG_MODULES)]
#[no_mangle]
pub unsafe extern "C" fn codetag_module_replaced(
    module: *mut bindings::module,
    new_module: *mut bindings::module,
) {
    // SAFETY: Per the safety requirements.
    unsafe { codetag::module_replaced(module, new_module) }
}
