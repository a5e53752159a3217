// SPDX-License-Identifier: GPL-2.0

//! A sysctl's `proc_handler` call, and the capability check writes need.
//!
//! C header: [`include/linux/sysctl.h`](srctree/include/linux/sysctl.h).

use crate::bindings;
use core::ffi::{c_int, c_void};

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
    /// Takes the arguments of a `proc_handler` call.
    ///
    /// # Safety
    ///
    /// They are the sysctl core's, for a call that is in progress, and
    /// nothing else uses them while the `ProcCall` lives.
    pub unsafe fn new(
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
