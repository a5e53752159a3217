// SPDX-License-Identifier: GPL-2.0

//! Static keys defined in Rust and tested from C.
//!
//! C header: [`include/linux/jump_label.h`](srctree/include/linux/jump_label.h).

use crate::{bindings, types::Opaque};
use core::sync::atomic::{AtomicI32, Ordering};

/// A `struct static_key` that C code can name and patch branches on.
///
/// # Examples
///
/// ```
/// use kernel::alloc_tag::static_key::StaticKey;
///
/// static KEY: StaticKey = StaticKey::new(false);
/// assert!(!KEY.is_enabled());
/// KEY.enable();
/// assert!(KEY.is_enabled());
/// KEY.disable();
/// assert!(!KEY.is_enabled());
/// assert!(StaticKey::new(true).is_enabled());
/// ```
///
/// C declares it as `struct static_key_true` or `struct static_key_false`;
/// both are a `struct static_key` and nothing else, so the layout is the
/// same whatever the initial value.
///
/// # Invariants
///
/// The key is initialised as `STATIC_KEY_INIT_TRUE` or `STATIC_KEY_INIT_FALSE`
/// would, and after that only changed through the C static key API.
#[repr(transparent)]
pub struct StaticKey(Opaque<bindings::static_key>);

// SAFETY: The C static key API serialises changes with `jump_label_lock()`
// and the count is read atomically, so the key can be shared between threads.
unsafe impl Sync for StaticKey {}

impl StaticKey {
    /// Creates a key that is initially enabled or disabled.
    pub const fn new(enabled: bool) -> Self {
        // INVARIANT: The same initial state as the C initialisers: the count,
        // and with jump labels the branch type in the low bit of `type`.
        Self(Opaque::new(bindings::static_key {
            enabled: bindings::atomic_t {
                counter: enabled as i32,
            },
            #[cfg(CONFIG_JUMP_LABEL)]
            __bindgen_anon_1: bindings::static_key__bindgen_ty_1 {
                type_: enabled as _,
            },
        }))
    }

    /// Borrows a key defined elsewhere (in C, or in another Rust object).
    ///
    /// # Safety
    ///
    /// `ptr` points to a valid, initialised `struct static_key` (or
    /// `static_key_true`/`_false`, which embed one) that is never freed.
    #[inline]
    pub unsafe fn from_raw(ptr: *const bindings::static_key) -> &'static StaticKey {
        // SAFETY: Per the safety requirements; `StaticKey` is a transparent
        // wrapper of the C struct.
        unsafe { &*ptr.cast::<StaticKey>() }
    }

    /// Returns the raw pointer to the C key.
    #[inline]
    pub fn as_ptr(&self) -> *mut bindings::static_key {
        // A cast, not `Opaque::get()`, which rustc does not inline across
        // crates (keys are tested on hot paths).
        core::ptr::from_ref(self).cast_mut().cast()
    }

    /// Returns whether the key is enabled, like `static_key_enabled()`.
    #[inline]
    pub fn is_enabled(&self) -> bool {
        // SAFETY: `enabled.counter` is a valid, aligned `int` for the lifetime
        // of `self`, and C only accesses it atomically.
        let count = unsafe {
            AtomicI32::from_ptr(core::ptr::addr_of_mut!((*self.as_ptr()).enabled.counter))
        };
        count.load(Ordering::Relaxed) > 0
    }

    /// Enables the key, patching every branch on it; may sleep.
    pub fn enable(&self) {
        // SAFETY: By the type invariant the key is a valid, initialised key.
        unsafe { bindings::static_key_enable(self.as_ptr()) }
    }

    /// Disables the key, patching every branch on it; may sleep.
    pub fn disable(&self) {
        // SAFETY: By the type invariant the key is a valid, initialised key.
        unsafe { bindings::static_key_disable(self.as_ptr()) }
    }
}
