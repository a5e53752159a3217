// SPDX-License-Identifier: GPL-2.0

//! Files read through `seq_file`: a record iterator's `seq_operations`, and
//! the one-shot `show` of `single_open()`.
//!
//! C header: [`include/linux/seq_file.h`](srctree/include/linux/seq_file.h).

use crate::{alloc::KBox, bindings, error::Result, types::Opaque};
use core::{
    ffi::{c_int, c_void},
    marker::PhantomData,
    ptr,
};

/// The state of one pass of a `seq_file` read over records, from `start` to
/// `stop`, standing on a record.
///
/// `seq_file` starts a pass for each buffer it fills, at the position of the
/// first record it has not shown, and always ends it with `stop`: dropping
/// the state. A state may therefore hold a lock for the pass.
pub trait SeqRecords: Sized {
    /// Starts a pass at record `pos` (0 is the first): the state on that
    /// record, or `None` if there is none (or the state cannot be had).
    fn start(pos: u64) -> Option<KBox<Self>>;

    /// Moves to the next record; `false` at the end.
    fn next(&mut self) -> bool;

    /// Writes the current record into `out`, the free space of the
    /// `seq_file`'s buffer: the number of bytes written, or `None` if it
    /// does not fit (`seq_file` then retries with a larger buffer).
    fn show(&mut self, out: &mut [u8]) -> Option<usize>;
}

/// The `seq_operations` that read a file through `T`.
///
/// The state of a pass lives in the `seq_file`'s `private` field, so the
/// file must not use it for anything else (`proc_create_seq()`, or
/// `proc_create_seq_private()` with no private data).
#[repr(transparent)]
pub struct SeqOperations<T>(bindings::seq_operations, PhantomData<T>);

// SAFETY: A table of functions that C only reads; `T` is never shared
// through it, each pass owns its own state.
unsafe impl<T> Sync for SeqOperations<T> {}

impl<T: SeqRecords> SeqOperations<T> {
    /// The table.
    pub const VTABLE: Self = Self(
        bindings::seq_operations {
            start: Some(Self::start),
            next: Some(Self::next),
            stop: Some(Self::stop),
            show: Some(Self::show),
        },
        PhantomData,
    );

    /// Returns the C table, for `proc_create_seq()` and its kin.
    pub fn as_ptr(&'static self) -> *const bindings::seq_operations {
        &self.0
    }

    /// Returns the state of the pass in progress.
    ///
    /// # Safety
    ///
    /// `m` is valid and `m->private` is NULL or the state [`Self::start`]
    /// set for the pass in progress, which only the caller uses.
    unsafe fn state<'a>(m: *mut bindings::seq_file) -> Option<&'a mut T> {
        // SAFETY: Per the safety requirements.
        unsafe { (*m).private.cast::<T>().as_mut() }
    }

    /// # Safety
    ///
    /// `seq_file` calls this with valid `m` and `pos`, `m->private` NULL
    /// (the previous pass ended with [`Self::stop`]).
    unsafe extern "C" fn start(
        m: *mut bindings::seq_file,
        pos: *mut bindings::loff_t,
    ) -> *mut c_void {
        // SAFETY: `pos` is valid; it never goes below 0.
        let Some(state) = T::start(unsafe { *pos } as u64) else {
            return ptr::null_mut();
        };
        let state = KBox::into_raw(state).cast::<c_void>();
        // SAFETY: `m` is valid; `stop` takes the state back.
        unsafe { (*m).private = state };
        state
    }

    /// # Safety
    ///
    /// `seq_file` calls this with valid `m` and `pos` during a pass that
    /// [`Self::start`] began with a record (`v`, its state).
    unsafe extern "C" fn next(
        m: *mut bindings::seq_file,
        v: *mut c_void,
        pos: *mut bindings::loff_t,
    ) -> *mut c_void {
        // SAFETY: `pos` is valid.
        unsafe { *pos += 1 };
        // SAFETY: The pass is in progress and its state is only used by
        // these callbacks, one at a time.
        let more = unsafe { Self::state(m) }.is_some_and(|state| state.next());
        if more {
            v
        } else {
            ptr::null_mut()
        }
    }

    /// # Safety
    ///
    /// `seq_file` calls this with a valid `m` at the end of every pass.
    unsafe extern "C" fn stop(m: *mut bindings::seq_file, _v: *mut c_void) {
        // SAFETY: `m` is valid.
        let state = unsafe { core::mem::take(&mut (*m).private) };
        if !state.is_null() {
            // SAFETY: A non-NULL `private` is the `KBox` that `start` leaked.
            drop(unsafe { KBox::from_raw(state.cast::<T>()) });
        }
    }

    /// # Safety
    ///
    /// `seq_file` calls this with a valid `m` during a pass, on a record.
    unsafe extern "C" fn show(m: *mut bindings::seq_file, _v: *mut c_void) -> c_int {
        // SAFETY: As in `next`.
        let Some(state) = (unsafe { Self::state(m) }) else {
            return 0;
        };
        // SAFETY: `m` is valid and `buf[count..size]` is its free space, the
        // space `seq_get_buf()` hands out; nothing else uses it meanwhile.
        let (count, free) = unsafe {
            let m = &mut *m;
            let free =
                core::slice::from_raw_parts_mut(m.buf.cast::<u8>().add(m.count), m.size - m.count);
            (&mut m.count, free)
        };
        let room = free.len();
        *count += match state.show(free) {
            Some(n) => n.min(room),
            // Like `seq_commit(m, -1)`: the buffer is marked full.
            None => room,
        };
        0
    }
}

/// A `seq_file` being shown, for the `show` of `single_open()`.
#[repr(transparent)]
pub struct SeqFile(Opaque<bindings::seq_file>);

impl SeqFile {
    /// Appends `data` (on overflow `seq_file` retries with a larger buffer).
    pub fn write(&self, data: &[u8]) {
        // SAFETY: By the type's construction (`single_show`) `self` is the
        // seq_file being shown; `data` is valid for its length.
        unsafe { bindings::seq_write(self.0.get(), data.as_ptr().cast(), data.len()) };
    }
}

/// A file of one record, shown by `single_open()`.
pub trait SingleShow {
    /// Writes the file's contents.
    fn show(out: &SeqFile) -> Result;
}

/// The `file_operations` of a read-only file shown by `T` through
/// `single_open()`.
#[repr(transparent)]
pub struct SingleFile<T>(bindings::file_operations, PhantomData<T>);

// SAFETY: A table of functions that C only reads.
unsafe impl<T> Sync for SingleFile<T> {}

impl<T: SingleShow> SingleFile<T> {
    /// The table.
    pub const VTABLE: Self = Self(
        bindings::file_operations {
            open: Some(Self::open),
            read: Some(bindings::seq_read),
            llseek: Some(bindings::seq_lseek),
            release: Some(bindings::single_release),
            // SAFETY: All zeroes is a valid `file_operations`: no owner, no
            // other operation.
            ..unsafe { core::mem::zeroed() }
        },
        PhantomData,
    );

    /// Returns the C table, for `debugfs_create_file()` and its kin.
    pub fn as_ptr(&'static self) -> *const bindings::file_operations {
        &self.0
    }

    /// # Safety
    ///
    /// The VFS calls this with a valid inode and file.
    unsafe extern "C" fn open(inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
        // SAFETY: A valid inode and file; `single_open` gives the file a
        // seq_file that calls `show`.
        unsafe { bindings::single_open(file, Some(Self::show), (*inode).i_private) }
    }

    /// # Safety
    ///
    /// `seq_file` calls this with a valid seq_file.
    unsafe extern "C" fn show(m: *mut bindings::seq_file, _v: *mut c_void) -> c_int {
        // SAFETY: `SeqFile` is a transparent wrapper of the valid seq_file.
        let out = unsafe { &*m.cast::<SeqFile>() };
        match T::show(out) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }
}
