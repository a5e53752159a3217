// SPDX-License-Identifier: GPL-2.0

//! An object made once at init and read without a lock ever after.

use crate::alloc::KBox;
use core::{
    pin::Pin,
    ptr,
    sync::atomic::{AtomicPtr, Ordering},
};

/// A `'static` object, published once (by an initcall) and then read by
/// any thread without a lock: C's pointer set at init and read with
/// `READ_ONCE()`, with the acquire and release that make the object's
/// contents visible along with it.
///
/// # Invariants
///
/// The pointer is NULL or points to a `T` that lives forever and is never
/// moved: a `&'static T`, or a leaked pinned box.
pub struct Published<T: Sync + 'static>(AtomicPtr<T>);

impl<T: Sync + 'static> Published<T> {
    /// Nothing published yet.
    pub const fn new() -> Self {
        // INVARIANT: NULL.
        Self(AtomicPtr::new(ptr::null_mut()))
    }

    /// Returns the object, `None` before it is published.
    #[inline]
    pub fn get(&self) -> Option<&'static T> {
        let p = self.0.load(Ordering::Acquire);
        // SAFETY: By the type invariant a non-NULL pointer is a `T` that
        // lives forever; `T: Sync`, so any thread may share it. The acquire
        // load pairs with the release store that published it.
        (!p.is_null()).then(|| unsafe { &*p })
    }

    /// Publishes `value` (one published before stays where it is, unseen).
    pub fn publish(&self, value: &'static T) {
        // INVARIANT: A `'static` reference lives forever and is not moved.
        self.0
            .store(ptr::from_ref(value).cast_mut(), Ordering::Release);
    }

    /// Leaks `value`, which is never moved or freed afterwards, publishes it
    /// and returns it.
    pub fn publish_pinned(&self, value: Pin<KBox<T>>) -> &'static T {
        // SAFETY: The object is never moved out of its allocation: the box is
        // leaked and only shared references to it are handed out.
        let p = KBox::into_raw(unsafe { Pin::into_inner_unchecked(value) });
        // INVARIANT: A leaked box lives forever, at its place.
        self.0.store(p, Ordering::Release);
        // SAFETY: As in `get`.
        unsafe { &*p }
    }
}

impl<T: Sync + 'static> Default for Published<T> {
    fn default() -> Self {
        Self::new()
    }
}
