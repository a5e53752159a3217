// SPDX-License-Identifier: GPL-2.0

//! Sysctl tables of static keys, a `proc_handler` call, and the capability
//! check writes need.
//!
//! C header: [`include/linux/sysctl.h`](srctree/include/linux/sysctl.h).

use super::static_key::StaticKey;
use crate::{bindings, str::CStr};
use core::{
    ffi::{c_int, c_void},
    ptr,
};

/// A `proc_handler` written in Rust: what a write or read of a sysctl
/// does, given the call.
pub trait Handler {
    /// Handles `call`; returns 0 or a negative errno, as the sysctl core
    /// expects.
    fn handle(call: ProcCall) -> c_int;
}

/// The C `proc_handler` of a [`Handler`].
///
/// # Safety
///
/// Called by the sysctl core, with the arguments of a call in progress.
unsafe extern "C" fn call_handler<H: Handler>(
    table: *const bindings::ctl_table,
    write: c_int,
    buffer: *mut c_void,
    lenp: *mut usize,
    ppos: *mut bindings::loff_t,
) -> c_int {
    // SAFETY: The sysctl core's arguments for this call, per the safety
    // requirements, used only through the `ProcCall`.
    H::handle(unsafe { ProcCall::new(table, write, buffer, lenp, ppos) })
}

/// An entry of a sysctl [`Table`].
///
/// # Invariants
///
/// `procname` is a static string and `data` a static [`StaticKey`], its
/// handler `proc_do_static_key()` or a [`Handler`]'s.
#[repr(transparent)]
pub struct Entry(bindings::ctl_table);

impl Entry {
    /// A file showing `key` as 0 or 1, switched by writes of 0 or 1
    /// (`proc_do_static_key()`, which needs `CAP_SYS_ADMIN`).
    pub const fn static_key(name: &'static CStr, key: &'static StaticKey, mode: u16) -> Self {
        Self::with_handler(name, key, mode, Some(bindings::proc_do_static_key))
    }

    /// A file whose data is `key`, read and written through `H`, which
    /// typically ends in [`ProcCall::do_static_key`].
    pub const fn static_key_with<H: Handler>(
        name: &'static CStr,
        key: &'static StaticKey,
        mode: u16,
    ) -> Self {
        Self::with_handler(name, key, mode, Some(call_handler::<H>))
    }

    const fn with_handler(
        name: &'static CStr,
        key: &'static StaticKey,
        mode: u16,
        handler: bindings::proc_handler,
    ) -> Self {
        // INVARIANT: A static name and a static key, with one of the
        // handlers the invariant allows.
        Self(bindings::ctl_table {
            procname: name.as_char_ptr(),
            data: ptr::from_ref(key).cast_mut().cast(),
            maxlen: 0,
            mode,
            proc_handler: handler,
            poll: ptr::null_mut(),
            extra1: ptr::null_mut(),
            extra2: ptr::null_mut(),
        })
    }
}

/// A static table of sysctl files, registered once at boot.
#[repr(transparent)]
pub struct Table<const N: usize>([Entry; N]);

// SAFETY: The sysctl core only reads the table, and by `Entry`'s invariant
// it points only to static strings and static keys, which are `Sync`.
unsafe impl<const N: usize> Sync for Table<N> {}

impl<const N: usize> Table<N> {
    /// The table of `entries`.
    pub const fn new(entries: [Entry; N]) -> Self {
        Self(entries)
    }

    /// Registers the table under `path` (`"vm"` for `/proc/sys/vm/`) at
    /// boot, C's `register_sysctl_init()`: `name` names it in the message
    /// if that fails. Init code only.
    #[link_section = ".init.text"]
    pub fn register_init(&'static self, path: &'static CStr, name: &'static CStr) {
        // SAFETY: The table is static, well formed (`Entry`'s invariant)
        // and never written; `path` and `name` are static strings.
        unsafe {
            bindings::__register_sysctl_init(
                path.as_char_ptr(),
                self.0.as_ptr().cast_mut().cast(),
                name.as_char_ptr(),
                N,
            )
        };
    }
}

/// Whether the current task has capability `cap` (`capable()`), for a
/// handler that checks before it acts.
pub fn capable(cap: u32) -> bool {
    // SAFETY: No requirements; `cap` is checked by `capable()` itself.
    unsafe { bindings::capable(cap as c_int) }
}

/// One call of a sysctl's `proc_handler`: a read or a write of the file at
/// a position.
///
/// # Invariants
///
/// The fields are the arguments the sysctl core passed for this call: a
/// valid table, and for a write `*lenp` readable bytes at `buffer`; `lenp`
/// and `ppos` valid for reads and writes. The call is handed on at most
/// once (the methods that do so take `self`).
pub struct ProcCall {
    table: *const bindings::ctl_table,
    write: c_int,
    buffer: *mut c_void,
    lenp: *mut usize,
    ppos: *mut bindings::loff_t,
}

impl ProcCall {
    /// Takes the arguments of a `proc_handler` call (for [`call_handler`]).
    ///
    /// # Safety
    ///
    /// They are the sysctl core's, for a call that is in progress, and
    /// nothing else uses them while the `ProcCall` lives.
    unsafe fn new(
        table: *const bindings::ctl_table,
        write: c_int,
        buffer: *mut c_void,
        lenp: *mut usize,
        ppos: *mut bindings::loff_t,
    ) -> Self {
        // INVARIANT: Per the safety requirements.
        Self {
            table,
            write,
            buffer,
            lenp,
            ppos,
        }
    }

    /// Whether the file is being written.
    pub fn is_write(&self) -> bool {
        self.write != 0
    }

    /// What is written (empty for a read).
    pub fn written(&self) -> &[u8] {
        if !self.is_write() {
            return &[];
        }
        // SAFETY: By the type invariant a write has `*lenp` bytes at `buffer`.
        unsafe { core::slice::from_raw_parts(self.buffer.cast::<u8>(), *self.lenp) }
    }

    /// The file position of the call.
    pub fn pos(&self) -> i64 {
        // SAFETY: By the type invariant `ppos` is valid.
        unsafe { *self.ppos }
    }

    /// Hands the call on to `proc_do_static_key()`, the handler of a sysctl
    /// whose `data` is a `static_key`.
    pub fn do_static_key(self) -> c_int {
        // SAFETY: By the type invariant these are the sysctl core's arguments.
        unsafe {
            bindings::proc_do_static_key(self.table, self.write, self.buffer, self.lenp, self.ppos)
        }
    }

    /// Writes `enable` through `proc_do_static_key()` instead of the text
    /// written; if it is taken, the whole text counts as taken, as the
    /// sysctl core reports a write. `proc_do_static_key()` still makes its
    /// own checks (`CAP_SYS_ADMIN`, the position) and takes its lock.
    pub fn do_static_key_as(self, enable: bool) -> c_int {
        let (pos, len) = (self.pos(), self.written().len());
        let mut digit = [if enable { b'1' } else { b'0' }];
        let mut digit_len = digit.len();
        // SAFETY: By the type invariant `table` and `ppos` are the sysctl
        // core's; for a write `proc_do_static_key()` only reads the buffer,
        // here `digit`, of `digit_len` bytes.
        let ret = unsafe {
            bindings::proc_do_static_key(
                self.table,
                self.write,
                digit.as_mut_ptr().cast(),
                &mut digit_len,
                self.ppos,
            )
        };
        if ret == 0 && self.is_write() {
            // SAFETY: By the type invariant `ppos` and `lenp` are valid.
            unsafe {
                *self.ppos = pos + len as bindings::loff_t;
                *self.lenp = len;
            }
        }
        ret
    }
}
