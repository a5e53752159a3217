// SPDX-License-Identifier: GPL-2.0

//! Files read through `seq_file`: a record iterator's `seq_operations`
//! (for `/proc` files, with ioctls if need be), and the one-shot `show` of
//! `single_open()`.
//!
//! C header: [`include/linux/seq_file.h`](srctree/include/linux/seq_file.h).

use crate::{
    alloc::KBox,
    bindings,
    error::code::*,
    error::{Error, Result},
    ffi::{c_long, c_ulong},
    init::PinInit,
    new_mutex,
    prelude::*,
    str::CStr,
    sync::Mutex,
    types::Opaque,
};
use core::{
    cell::UnsafeCell,
    ffi::{c_int, c_uint, c_void},
    marker::PhantomData,
    mem::size_of,
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
/// The `seq_file`'s `private` field points to the open file's slot for the
/// state of a pass (a `PassSlot`, zeroed memory to start with), so the
/// files must be made by [`SeqOperations::create_proc`] or [`ProcIoctlFile`].
#[repr(transparent)]
pub struct SeqOperations<T>(bindings::seq_operations, PhantomData<T>);

// SAFETY: A table of functions that C only reads; `T` is never shared
// through it, each pass owns its own state.
unsafe impl<T> Sync for SeqOperations<T> {}

/// Where an open file keeps the state of its pass in progress: `None`
/// (all zeroes) between passes.
type PassSlot<T> = UnsafeCell<Option<KBox<T>>>;

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

    /// Returns the C table.
    pub fn as_ptr(&'static self) -> *const bindings::seq_operations {
        &self.0
    }

    /// Creates `/proc/<name>`, read through this table, with permissions
    /// `mode`, and keeps it in `entry`; `EEXIST` if `entry` already holds a
    /// file, `ENOMEM` if procfs cannot make one.
    pub fn create_proc(&'static self, entry: &ProcEntry, name: &'static CStr, mode: u16) -> Result {
        if entry.exists() {
            return Err(EEXIST);
        }
        // SAFETY: The name and the table are static; no parent (the root
        // of /proc), no data. Each open gets zeroed private memory the size
        // of a pass slot, which the table's callbacks use.
        let file = unsafe {
            bindings::proc_create_seq_private(
                name.as_char_ptr(),
                mode,
                ptr::null_mut(),
                self.as_ptr(),
                size_of::<PassSlot<T>>() as c_uint,
                ptr::null_mut(),
            )
        };
        entry.publish(file)
    }

    /// Returns the open file's pass slot.
    ///
    /// # Safety
    ///
    /// `m` is valid and `m->private` is its pass slot, which only the caller
    /// uses meanwhile (`seq_file` calls its callbacks under its lock).
    unsafe fn slot<'a>(m: *mut bindings::seq_file) -> &'a mut Option<KBox<T>> {
        // SAFETY: Per the safety requirements.
        unsafe { &mut *(*(*m).private.cast::<PassSlot<T>>()).get() }
    }

    /// # Safety
    ///
    /// `seq_file` calls this with valid `m` and `pos`, its pass slot empty
    /// (the previous pass ended with [`Self::stop`]).
    unsafe extern "C" fn start(
        m: *mut bindings::seq_file,
        pos: *mut bindings::loff_t,
    ) -> *mut c_void {
        // SAFETY: `pos` is valid; it never goes below 0.
        let Some(mut state) = T::start(unsafe { *pos } as u64) else {
            return ptr::null_mut();
        };
        let record = ptr::from_mut(&mut *state).cast::<c_void>();
        // SAFETY: `m` is valid, its slot ours; `stop` empties it.
        unsafe { *Self::slot(m) = Some(state) };
        record
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
        // SAFETY: The pass is in progress and its slot only used by these
        // callbacks, one at a time.
        let more = unsafe { Self::slot(m) }
            .as_deref_mut()
            .is_some_and(|state| state.next());
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
        // SAFETY: `m` is valid, its slot ours; the pass ends here.
        drop(unsafe { Self::slot(m) }.take());
    }

    /// # Safety
    ///
    /// `seq_file` calls this with a valid `m` during a pass, on a record.
    unsafe extern "C" fn show(m: *mut bindings::seq_file, _v: *mut c_void) -> c_int {
        // SAFETY: As in `next`.
        let Some(state) = (unsafe { Self::slot(m) }).as_deref_mut() else {
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

/// A file read through [`SeqOperations`] that also takes ioctls, with
/// state of its own for each open file.
pub trait SeqIoctl: SeqRecords + 'static {
    /// What an open file keeps between its ioctls.
    type State: Default + Send;

    /// Handles ioctl `cmd` with argument `arg` (a user pointer for most
    /// commands); `state` is the open file's, locked. Returns the ioctl's
    /// value, or `ENOTTY` for a command it does not know.
    fn ioctl(state: &mut Self::State, cmd: u32, arg: usize) -> Result<i32>;
}

/// The private memory of an open [`ProcIoctlFile`]: the pass slot first,
/// where [`SeqOperations`] looks for it, then the ioctl state.
#[repr(C)]
#[pin_data]
struct OpenFile<T: SeqIoctl> {
    pass: PassSlot<T>,
    #[pin]
    state: Mutex<T::State>,
}

/// The `proc_ops` of a `/proc` file read through `SeqOperations<T>` that
/// takes `T`'s ioctls.
#[repr(transparent)]
pub struct ProcIoctlFile<T>(bindings::proc_ops, PhantomData<T>);

// SAFETY: A table of functions that C only reads.
unsafe impl<T> Sync for ProcIoctlFile<T> {}

impl<T: SeqIoctl + 'static> ProcIoctlFile<T> {
    /// The table.
    pub const VTABLE: Self = Self(
        bindings::proc_ops {
            proc_open: Some(Self::open),
            proc_read_iter: Some(bindings::seq_read_iter),
            proc_lseek: Some(bindings::seq_lseek),
            proc_release: Some(Self::release),
            proc_ioctl: Some(Self::ioctl),
            #[cfg(CONFIG_COMPAT)]
            proc_compat_ioctl: Some(Self::compat_ioctl),
            // SAFETY: All zeroes is a valid `proc_ops`: no flags, no other
            // operation.
            ..unsafe { core::mem::zeroed() }
        },
        PhantomData,
    );

    /// Creates `/proc/<name>` with permissions `mode` and keeps it in
    /// `entry`; `EEXIST` if `entry` already holds a file, `ENOMEM` if
    /// procfs cannot make one.
    pub fn create(&'static self, entry: &ProcEntry, name: &'static CStr, mode: u16) -> Result {
        if entry.exists() {
            return Err(EEXIST);
        }
        // SAFETY: The name and the table are static; no parent (the root
        // of /proc).
        let file =
            unsafe { bindings::proc_create(name.as_char_ptr(), mode, ptr::null_mut(), &self.0) };
        entry.publish(file)
    }

    /// Returns the private memory of an open file.
    ///
    /// # Safety
    ///
    /// `file` is an open file of this table (its open succeeded and its
    /// release has not begun).
    unsafe fn open_file(file: *mut bindings::file) -> *mut OpenFile<T> {
        // SAFETY: Per the safety requirements `private_data` is the seq_file
        // `open` made, whose `private` is the `OpenFile` it initialised.
        unsafe {
            (*(*file).private_data.cast::<bindings::seq_file>())
                .private
                .cast()
        }
    }

    /// # Safety
    ///
    /// The VFS calls this with a valid inode and file being opened.
    unsafe extern "C" fn open(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
        let ops: &'static SeqOperations<T> = &SeqOperations::<T>::VTABLE;
        // SAFETY: A valid file; `seq_open_private` gives it a seq_file with
        // zeroed private memory of the size asked, kmalloc-aligned.
        let ret = unsafe {
            bindings::seq_open_private(file, ops.as_ptr(), size_of::<OpenFile<T>>() as c_int)
        };
        if ret != 0 {
            return ret;
        }
        let init = pin_init!(OpenFile::<T> {
            pass: UnsafeCell::new(None),
            state <- new_mutex!(T::State::default(), "allocinfo_ioctl"),
        });
        // SAFETY: The private memory is ours, the size of an `OpenFile` and
        // aligned for it; it is never moved and is dropped in `release`.
        match unsafe { init.__pinned_init(Self::open_file(file)) } {
            Ok(()) => 0,
            Err(e) => Error::from(e).to_errno(),
        }
    }

    /// # Safety
    ///
    /// The VFS calls this with the inode and an open file of this table, once,
    /// when its last reference goes.
    unsafe extern "C" fn release(inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
        // SAFETY: `open` initialised it and nothing uses it any more.
        unsafe { ptr::drop_in_place(Self::open_file(file)) };
        // SAFETY: The seq_file and private memory `open` made.
        unsafe { bindings::seq_release_private(inode, file) }
    }

    /// # Safety
    ///
    /// The VFS calls this with an open file of this table.
    unsafe extern "C" fn ioctl(file: *mut bindings::file, cmd: c_uint, arg: c_ulong) -> c_long {
        // SAFETY: An open file: its `OpenFile` is initialised; only the state
        // is touched here (the pass slot is the readers', under seq_file's
        // lock), through a shared reference to the mutex.
        let state = unsafe { &*ptr::addr_of!((*Self::open_file(file)).state) };
        match T::ioctl(&mut state.lock(), cmd, arg) {
            Ok(v) => v as c_long,
            Err(e) => e.to_errno() as c_long,
        }
    }

    /// # Safety
    ///
    /// As for [`Self::ioctl`]; the argument is a compat pointer, the same
    /// value on the architectures with `CONFIG_COMPAT` that take this file's
    /// layouts unchanged (the uapi structures are 64-bit aligned).
    #[cfg(CONFIG_COMPAT)]
    unsafe extern "C" fn compat_ioctl(
        file: *mut bindings::file,
        cmd: c_uint,
        arg: c_ulong,
    ) -> c_long {
        // SAFETY: As above.
        unsafe { Self::ioctl(file, cmd, arg) }
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

    /// Whether it holds a file.
    fn exists(&self) -> bool {
        !self.0.load(Ordering::Acquire).is_null()
    }

    /// Keeps `file`, just created (NULL: procfs could not, `ENOMEM`);
    /// `EEXIST`, and `file` removed, if it already holds one.
    fn publish(&self, file: *mut bindings::proc_dir_entry) -> Result {
        if file.is_null() {
            return Err(ENOMEM);
        }
        if self
            .0
            .compare_exchange(ptr::null_mut(), file, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // SAFETY: `file` was just created, and is nobody else's.
            unsafe { bindings::proc_remove(file) };
            return Err(EEXIST);
        }
        // INVARIANT: A live entry only this `ProcEntry` removes.
        Ok(())
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
