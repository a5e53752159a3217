// SPDX-License-Identifier: GPL-2.0

//! Files read through `seq_file`: a record iterator's `seq_operations`, and
//! the one-shot `show` of `single_open()`.
//!
//! C header: [`include/linux/seq_file.h`](srctree/include/linux/seq_file.h).

use crate::{alloc::KBox, bindings, error::code::*, error::Result, str::CStr, types::Opaque};
use core::{
    ffi::{c_int, c_void},
    marker::PhantomData,
    ptr,
    sync::atomic::{AtomicPtr, Ordering},
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

    /// Creates `/proc/<name>`, read through this table, with permissions
    /// `mode`, and keeps it in `entry`; `EEXIST` if `entry` already holds a
    /// file, `ENOMEM` if procfs cannot make one.
    pub fn create_proc(&'static self, entry: &ProcEntry, name: &'static CStr, mode: u16) -> Result {
        if !entry.0.load(Ordering::Acquire).is_null() {
            return Err(EEXIST);
        }
        // SAFETY: The name and the table are static; no parent (the root
        // of /proc), no private data: `private` stays the table's own.
        let file = unsafe {
            bindings::proc_create_seq_private(
                name.as_char_ptr(),
                mode,
                ptr::null_mut(),
                self.as_ptr(),
                0,
                ptr::null_mut(),
            )
        };
        if file.is_null() {
            return Err(ENOMEM);
        }
        if entry
            .0
            .compare_exchange(ptr::null_mut(), file, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // SAFETY: `file` was just created, and is nobody else's.
            unsafe { bindings::proc_remove(file) };
            return Err(EEXIST);
        }
        Ok(())
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

    /// Creates the debugfs file `<dir>/<name>` with permissions `mode`,
    /// shown by `T`, for good. Debugging files are optional: without
    /// debugfs, or if debugfs fails, there is no file and nothing else
    /// changes.
    #[cfg(CONFIG_DEBUG_FS)]
    pub fn create_in_debugfs(&'static self, dir: &'static CStr, name: &'static CStr, mode: u16) {
        // SAFETY: The names and the table are static; a NULL parent is the
        // debugfs root, and an error pointer as parent makes
        // `debugfs_create_file()` create nothing; no private data.
        unsafe {
            let dir = bindings::debugfs_create_dir(dir.as_char_ptr(), ptr::null_mut());
            bindings::debugfs_create_file(
                name.as_char_ptr(),
                mode,
                dir,
                ptr::null_mut(),
                self.as_ptr(),
            );
        }
    }

    /// Without debugfs there is no file.
    #[cfg(not(CONFIG_DEBUG_FS))]
    pub fn create_in_debugfs(&'static self, _dir: &'static CStr, _name: &'static CStr, _mode: u16) {
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

/// A file in `/proc`, created once ([`SeqOperations::create_proc`]) and
/// removed at most once.
///
/// # Invariants
///
/// The pointer is NULL or a live entry that only this `ProcEntry` removes.
pub struct ProcEntry(AtomicPtr<bindings::proc_dir_entry>);

impl ProcEntry {
    /// No file yet.
    pub const fn new() -> Self {
        Self(AtomicPtr::new(ptr::null_mut()))
    }

    /// Removes the file, if there is one: it is gone for readers that
    /// open it next, and readers that have it open finish their read.
    pub fn remove(&self) {
        let file = self.0.swap(ptr::null_mut(), Ordering::AcqRel);
        if !file.is_null() {
            // SAFETY: By the type invariant `file` is live and ours to
            // remove; the swap made this call its only remover.
            unsafe { bindings::proc_remove(file) };
        }
    }
}

impl Default for ProcEntry {
    fn default() -> Self {
        Self::new()
    }
}

/// A `struct seq_buf` being appended to, as C's `seq_buf_printf()` does it.
///
/// # Invariants
///
/// The `seq_buf` is valid and initialised, `len <= size`, and
/// `buffer[..size]` is writable and nobody else's for the borrow.
#[repr(transparent)]
pub struct SeqBuf(Opaque<bindings::seq_buf>);

impl SeqBuf {
    /// Borrows a `seq_buf` C passed.
    ///
    /// # Safety
    ///
    /// `ptr` is a valid, initialised `seq_buf` (`len <= size`, `size`
    /// writable bytes at `buffer`) that only the caller uses for `'a`.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::seq_buf) -> &'a mut Self {
        // SAFETY: Per the safety requirements; `SeqBuf` is transparent.
        unsafe { &mut *ptr.cast::<Self>() }
    }

    /// Appends what `write` puts at the start of the slice it is given,
    /// the free space but the byte kept for the NUL; `write` returns how
    /// many bytes it wrote, or `None` if they did not fit. The text is
    /// NUL-terminated; if it did not fit, the buffer is marked overflowed
    /// (`len == size`), as `vsnprintf()` in `seq_buf_printf()` leaves it.
    pub fn append(&mut self, write: impl FnOnce(&mut [u8]) -> Option<usize>) {
        let sb = self.0.get();
        // SAFETY: By the type invariant the seq_buf is valid and ours.
        let (buffer, size, len) = unsafe { ((*sb).buffer.cast::<u8>(), (*sb).size, (*sb).len) };
        let new_len = match size.checked_sub(len) {
            Some(room) if room > 1 => {
                // SAFETY: By the type invariant `buffer[len..size]` is
                // writable, and nobody else's while `self` is borrowed.
                let free = unsafe { core::slice::from_raw_parts_mut(buffer.add(len), room) };
                match write(&mut free[..room - 1]) {
                    Some(n) if n < room => {
                        free[n] = 0;
                        len + n
                    }
                    _ => size,
                }
            }
            _ => size,
        };
        // SAFETY: As above; `new_len <= size` keeps the invariant.
        unsafe { (*sb).len = new_len };
    }
}
