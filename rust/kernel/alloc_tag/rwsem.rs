// SPDX-License-Identifier: GPL-2.0

//! A reader-writer semaphore that C code also locks.
//!
//! C header: [`include/linux/rwsem.h`](srctree/include/linux/rwsem.h).

use crate::{bindings, init::PinInit, prelude::*, str::CStr, sync::LockClassKey, types::Opaque};
use core::marker::PhantomData;

/// A `struct rw_semaphore`.
///
/// Unlike the kernel crate's locks it does not own the data it protects: C
/// callers take it around their own accesses, so the data sits next to it.
///
/// # Invariants
///
/// The semaphore was initialised by `__init_rwsem()` and is pinned.
#[repr(transparent)]
#[pin_data]
pub struct RwSem {
    #[pin]
    sem: Opaque<bindings::rw_semaphore>,
}

// SAFETY: A semaphore exists to be used from several threads.
unsafe impl Sync for RwSem {}
// SAFETY: A semaphore is not tied to the thread that initialised it.
unsafe impl Send for RwSem {}

impl RwSem {
    /// Creates an initialiser for a semaphore with the given lockdep name and class.
    pub fn new(name: &'static CStr, key: &'static LockClassKey) -> impl PinInit<Self> {
        // INVARIANT: `__init_rwsem()` initialises the pinned slot.
        pin_init!(Self {
            // SAFETY: `slot` is valid for writes and pinned; `name` and `key`
            // live forever.
            sem <- Opaque::ffi_init(|slot| unsafe {
                bindings::__init_rwsem(slot, name.as_char_ptr(), key.as_ptr())
            }),
        })
    }

    /// Returns the raw pointer to the C semaphore.
    #[inline]
    pub fn as_ptr(&self) -> *mut bindings::rw_semaphore {
        self.sem.get()
    }

    /// Takes the semaphore for reading; may sleep.
    pub fn read(&self) -> ReadGuard<'_> {
        // SAFETY: By the type invariant the semaphore is initialised.
        unsafe { bindings::down_read(self.as_ptr()) };
        // INVARIANT: The semaphore was just taken for reading.
        ReadGuard {
            sem: self,
            _not_send: PhantomData,
        }
    }

    /// Takes the semaphore for reading if that does not need to wait.
    pub fn try_read(&self) -> Option<ReadGuard<'_>> {
        // SAFETY: By the type invariant the semaphore is initialised.
        if unsafe { bindings::down_read_trylock(self.as_ptr()) } == 0 {
            return None;
        }
        // INVARIANT: The semaphore was just taken for reading.
        Some(ReadGuard {
            sem: self,
            _not_send: PhantomData,
        })
    }

    /// Takes the semaphore for writing; may sleep.
    pub fn write(&self) -> WriteGuard<'_> {
        // SAFETY: By the type invariant the semaphore is initialised.
        unsafe { bindings::down_write(self.as_ptr()) };
        // INVARIANT: The semaphore was just taken for writing.
        WriteGuard {
            sem: self,
            _not_send: PhantomData,
        }
    }

    /// Releases a read hold taken without a guard (by C, or by
    /// [`ReadGuard::leak`]).
    ///
    /// # Safety
    ///
    /// The caller's task holds the semaphore for reading and gives that hold up.
    pub unsafe fn read_unlock(&self) {
        // SAFETY: The caller holds a read hold, per the safety requirements.
        unsafe { bindings::up_read(self.as_ptr()) }
    }
}

/// A read hold on an [`RwSem`], released when dropped.
///
/// # Invariants
///
/// The current task holds `sem` for reading.
pub struct ReadGuard<'a> {
    sem: &'a RwSem,
    _not_send: PhantomData<*mut ()>,
}

impl ReadGuard<'_> {
    /// Keeps the semaphore held after the guard is gone; release it with
    /// [`RwSem::read_unlock`].
    pub fn leak(self) {
        core::mem::forget(self);
    }

    /// Returns the semaphore this guard holds.
    pub fn sem(&self) -> &RwSem {
        self.sem
    }
}

impl Drop for ReadGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant this task holds a read hold.
        unsafe { self.sem.read_unlock() }
    }
}

/// A write hold on an [`RwSem`], released when dropped.
///
/// # Invariants
///
/// The current task holds `sem` for writing.
pub struct WriteGuard<'a> {
    sem: &'a RwSem,
    _not_send: PhantomData<*mut ()>,
}

impl WriteGuard<'_> {
    /// Returns the semaphore this guard holds.
    pub fn sem(&self) -> &RwSem {
        self.sem
    }
}

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant this task holds the write hold.
        unsafe { bindings::up_write(self.sem.as_ptr()) }
    }
}
