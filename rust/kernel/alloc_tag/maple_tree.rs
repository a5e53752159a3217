// SPDX-License-Identifier: GPL-2.0

//! A maple tree that hands out ranges of an index space.
//!
//! C header: [`include/linux/maple_tree.h`](srctree/include/linux/maple_tree.h).
//!
//! The module allocation tag area keeps its used ranges and gaps in such a
//! tree: a module's tags get a range of the right size and alignment, the
//! range is freed or kept at unload, and the ranges are walked from the top.
//!
//! # Examples
//!
//! Reserve a range, release it and reuse the space; a range that overlaps a
//! stored one is refused and the value comes back.
//!
//! ```
//! use kernel::alloc::{flags::GFP_KERNEL, KBox};
//! use kernel::alloc_tag::maple_tree::MapleTree;
//! use kernel::error::code::EEXIST;
//!
//! let tree = KBox::pin_init(MapleTree::<KBox<u32>>::new(), GFP_KERNEL)?;
//! let mut mt = tree.lock();
//!
//! mt.insert_range(0x100, 0x1ff, KBox::new(1, GFP_KERNEL)?, GFP_KERNEL)?;
//! assert_eq!(mt.load(0x100).copied(), Some(1));
//! assert_eq!(mt.load(0x1ff).copied(), Some(1));
//! assert!(mt.load(0xff).is_none() && mt.load(0x200).is_none());
//!
//! // Any overlap is refused, the tree is unchanged and the value is handed back.
//! let err = mt
//!     .insert_range(0x1ff, 0x2ff, KBox::new(2, GFP_KERNEL)?, GFP_KERNEL)
//!     .unwrap_err();
//! assert!(err.error == EEXIST);
//! assert_eq!(*err.value, 2);
//! assert!(mt.load(0x200).is_none());
//! let err = mt.insert_range(0, usize::MAX, err.value, GFP_KERNEL).unwrap_err();
//! assert!(err.error == EEXIST);
//!
//! // Erasing any index of a range releases the whole range and returns its value.
//! assert_eq!(mt.erase(0x180)?.map(|v| *v), Some(1));
//! assert!(mt.load(0x100).is_none());
//! assert!(mt.erase(0x180)?.is_none());
//!
//! // The space is free again: a larger range over it now fits.
//! mt.insert_range(0x100, 0x2ff, err.value, GFP_KERNEL)?;
//! assert_eq!(mt.load(0x1ff).copied(), Some(2));
//! # Ok::<(), Error>(())
//! ```

use crate::{
    alloc::Flags,
    bindings,
    error::{
        code::{EBUSY, EEXIST, EINVAL, ENOMEM},
        to_result,
    },
    init::PinInit,
    prelude::*,
    sync::{lock, Mutex},
    types::{ForeignOwnable, Opaque},
};
use core::{marker::PhantomData, ops::RangeInclusive, ptr};

/// A maple tree that tracks gaps and stores values of type `T` over ranges.
///
/// The tree is created with `MT_FLAGS_ALLOC_RANGE`, so empty areas can be
/// searched, and `MT_FLAGS_LOCK_EXTERN`: its own spinlock is not used, a
/// mutex next to it is. The maple tree allocates nodes while it stores or
/// erases, and `mas_erase()` always does so with `GFP_KERNEL`; under the
/// tree's spinlock it would drop the lock to allocate and retry, so a search
/// followed by a store would no longer be atomic. With a mutex nothing is
/// dropped and allocations may sleep. Every operation goes through the
/// The name of every maple tree's lock. One static, not a literal in
/// generic code: trees built in different crates would otherwise give
/// lockdep two name pointers for the one class key, which it reports.
static LOCK_NAME: &crate::str::CStr = crate::c_str!("MapleTree::lock");

/// The lock class of every maple tree's lock, from non-generic code.
#[inline(never)]
fn lock_class() -> &'static crate::sync::LockClassKey {
    crate::static_lock_class!()
}

/// [`Guard`] that [`MapleTree::lock`] returns.
///
/// The tree owns its values: each stored range holds one value made by
/// [`ForeignOwnable::into_foreign`], handed back when the range is erased
/// and dropped with the tree.
///
/// # Invariants
///
/// - `tree` is an initialised `struct maple_tree` with the flags above, and
///   it is pinned (its root node points back at it).
/// - `tree` is only read or written while `lock` is held, or through an
///   exclusive reference to `self`.
/// - Every entry of `tree` is a non-null pointer, not an internal entry,
///   returned by `T::into_foreign` and not yet passed to `T::from_foreign`;
///   each stored range has its own.
#[pin_data(PinnedDrop)]
pub struct MapleTree<T: ForeignOwnable> {
    #[pin]
    tree: Opaque<bindings::maple_tree>,
    #[pin]
    lock: Mutex<()>,
    _values: PhantomData<T>,
}

// SAFETY: The tree owns values of type `T`; it may go to another thread if
// they may.
unsafe impl<T: ForeignOwnable + Send> Send for MapleTree<T> {}

// SAFETY: Through a shared reference, values are moved in and out under the
// lock (so `T` must be `Send`) and borrowed from any thread holding it (so
// `T` must be `Sync`).
unsafe impl<T: ForeignOwnable + Send + Sync> Sync for MapleTree<T> {}

impl<T: ForeignOwnable> MapleTree<T> {
    /// The flags of every tree: gaps are tracked, the lock is ours.
    const FLAGS: u32 = bindings::MT_FLAGS_ALLOC_RANGE | bindings::MT_FLAGS_LOCK_EXTERN;

    /// Creates an initialiser for an empty tree.
    pub fn new() -> impl PinInit<Self> {
        // INVARIANT: The tree is initialised below, pinned, and empty.
        pin_init!(Self {
            // SAFETY: `slot` is valid for writing one `struct maple_tree`,
            // and all zeroes is a valid one: no root, no flags, and nothing
            // in the lock union. Setting the flags then gives what
            // `mt_init_flags()` gives a tree with an external lock.
            tree <- Opaque::ffi_init(|slot: *mut bindings::maple_tree| unsafe {
                ptr::write_bytes(slot, 0, 1);
                (*slot).ma_flags = Self::FLAGS;
            }),
            lock <- Mutex::new((), LOCK_NAME, lock_class()),
            _values: PhantomData,
        })
    }

    /// Locks the tree, which may sleep, and returns the guard to use it.
    #[inline]
    pub fn lock(&self) -> Guard<'_, T> {
        // INVARIANT: The guard holds the lock for as long as it lives.
        Guard {
            tree: self,
            _lock: self.lock.lock(),
        }
    }

    /// A fresh maple state for `[first, last]` of this tree, as `MA_STATE()` makes it.
    #[inline]
    fn state(&self, first: usize, last: usize) -> bindings::ma_state {
        bindings::ma_state {
            tree: self.tree.get(),
            index: first,
            last,
            node: ptr::null_mut(),
            min: 0,
            max: usize::MAX,
            alloc: ptr::null_mut(),
            status: bindings::maple_status_ma_start,
            depth: 0,
            offset: 0,
            mas_flags: 0,
            end: 0,
            store_type: bindings::store_type_wr_invalid,
        }
    }
}

#[pinned_drop]
impl<T: ForeignOwnable> PinnedDrop for MapleTree<T> {
    fn drop(self: Pin<&mut Self>) {
        let mut mas = self.state(0, 0);
        loop {
            // SAFETY: `mas` is a fresh state of the initialised tree, then
            // the one `mas_find()` left; the exclusive reference to `self`
            // stands for the lock.
            let entry = unsafe { bindings::mas_find(&mut mas, usize::MAX) };
            if entry.is_null() {
                break;
            }
            // SAFETY: By the type invariant the entry came from
            // `T::into_foreign`, once per range, and the tree is going away,
            // so nothing borrows it and it is converted back only here.
            drop(unsafe { T::from_foreign(entry) });
        }
        // SAFETY: The tree is initialised and nobody else can reach it; its
        // entries were taken above and are not touched by the destruction.
        unsafe { bindings::__mt_destroy(self.tree.get()) };
    }
}

/// A value that could not be stored, handed back with the reason.
pub struct InsertError<T> {
    /// The value that was to be stored.
    pub value: T,
    /// Why it was not: `EEXIST` if the range is in use, `EBUSY` if no empty
    /// area fits, `EINVAL` for a bad request, `ENOMEM` if the tree could not
    /// grow.
    pub error: Error,
}

impl<T> From<InsertError<T>> for Error {
    #[inline]
    fn from(e: InsertError<T>) -> Error {
        e.error
    }
}

/// `x` rounded up to a multiple of the power of two `align`, if it fits.
#[inline]
fn align_up(x: usize, align: usize) -> Option<usize> {
    Some(x.checked_add(align - 1)? & !(align - 1))
}

/// A locked [`MapleTree`]: all its operations.
///
/// # Invariants
///
/// `_lock` holds the lock of `tree` for as long as the guard lives.
pub struct Guard<'a, T: ForeignOwnable> {
    tree: &'a MapleTree<T>,
    _lock: lock::Guard<'a, (), lock::mutex::MutexBackend>,
}

impl<'a, T: ForeignOwnable> Guard<'a, T> {
    /// Borrows the value stored at `index`, if any.
    #[inline]
    pub fn load(&self, index: usize) -> Option<T::Borrowed<'_>> {
        let mut mas = self.tree.state(index, index);
        // SAFETY: `mas` is a fresh state of the initialised tree, whose lock
        // is held by the type invariant.
        let entry = unsafe { bindings::mas_walk(&mut mas) };
        if entry.is_null() {
            return None;
        }
        // SAFETY: By the tree's invariant the entry came from
        // `T::into_foreign` and is still owned by the tree. It can only be
        // taken back through `&mut self`, which the borrow of `self` rules
        // out while the value is borrowed.
        Some(unsafe { T::borrow(entry) })
    }

    /// Stores `value` over `[first, last]`, which must be entirely empty.
    ///
    /// On failure the value is handed back: `EEXIST` if any index of the
    /// range is in use, `EINVAL` if `first > last`, `ENOMEM` if the tree
    /// could not allocate its nodes with `flags`.
    pub fn insert_range(
        &mut self,
        first: usize,
        last: usize,
        value: T,
        flags: Flags,
    ) -> Result<(), InsertError<T>> {
        let entry = value.into_foreign();
        let fail = |error| {
            // SAFETY: `entry` was just made by `T::into_foreign` and is not
            // in the tree: it is turned back into the value, once, on the
            // path that gives up.
            let value = unsafe { T::from_foreign(entry) };
            Err(InsertError { value, error })
        };
        // The tree takes a null entry as "erase" and reserves the internal
        // ones (low bits `10`) for itself.
        if first > last || entry.is_null() || (entry as usize) & 3 == 2 {
            return fail(EINVAL);
        }
        let mut mas = self.tree.state(first, first);
        // SAFETY: `mas` is a fresh state of the initialised tree, whose lock
        // is held by the type invariant.
        if !unsafe { bindings::mas_find(&mut mas, last) }.is_null() {
            return fail(EEXIST);
        }
        let mut mas = self.tree.state(first, last);
        // SAFETY: As above. The range is empty, so the store overwrites no
        // entry, and with the external lock the tree allocates without
        // dropping any lock, so nothing can change that meanwhile.
        let ret = unsafe { bindings::mas_store_gfp(&mut mas, entry.cast_mut(), flags.as_raw()) };
        match to_result(ret) {
            // INVARIANT: The tree now owns `entry`, stored over one range.
            Ok(()) => Ok(()),
            Err(error) => fail(error),
        }
    }

    /// Erases the whole range that contains `index` and returns its value.
    ///
    /// `Ok(None)` if nothing is stored at `index`. Erasing may allocate tree
    /// nodes (with `GFP_KERNEL`); if that fails it is `ENOMEM` and the range
    /// stays stored.
    pub fn erase(&mut self, index: usize) -> Result<Option<T>> {
        let mut mas = self.tree.state(index, index);
        // SAFETY: `mas` is a fresh state of the initialised tree, whose lock
        // is held by the type invariant.
        let entry = unsafe { bindings::mas_erase(&mut mas) };
        if entry.is_null() {
            return Ok(None);
        }
        // `mas_erase()` returns the entry it found even when it could not
        // allocate the nodes to remove it; then the state is in error.
        if mas.status == bindings::maple_status_ma_error {
            return Err(ENOMEM);
        }
        // SAFETY: The entry came from `T::into_foreign` (tree invariant) and
        // has just been removed from the tree, which held it once; no borrow
        // of it is alive since `self` is borrowed mutably.
        Ok(Some(unsafe { T::from_foreign(entry) }))
    }

    /// Finds the lowest empty `[start, start + size - 1]` within `[min, max]`
    /// with `start` a multiple of `align`.
    ///
    /// `align` must be a power of two and `size` not zero (else `EINVAL`);
    /// `EBUSY` if no empty area of that size and alignment is left.
    pub fn find_empty(&self, size: usize, align: usize, min: usize, max: usize) -> Result<usize> {
        if size == 0 || !align.is_power_of_two() || min > max {
            return Err(EINVAL);
        }
        // `mas_empty_area()` knows no alignment: search from an aligned
        // index, and when the area found starts unaligned, search again from
        // the next aligned index. Each round starts higher, so this ends.
        let mut from = align_up(min, align).ok_or(EBUSY)?;
        loop {
            if from > max || max - from < size - 1 {
                return Err(EBUSY);
            }
            let mut mas = self.tree.state(from, from);
            // SAFETY: `mas` is a fresh state of the initialised tree, whose
            // lock is held by the type invariant; the tree tracks gaps.
            to_result(unsafe { bindings::mas_empty_area(&mut mas, from, max, size) })?;
            let start = mas.index;
            if start < from || start > max - (size - 1) {
                // Not what was asked for; never seen, but do not trust it.
                return Err(EBUSY);
            }
            let aligned = align_up(start, align).ok_or(EBUSY)?;
            if aligned == start {
                return Ok(start);
            }
            from = aligned;
        }
    }

    /// Stores `value` over the lowest empty range [`Guard::find_empty`] finds
    /// and returns its first index.
    ///
    /// On failure the value is handed back with the error of the search or
    /// of the store.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::alloc::{flags::GFP_KERNEL, KBox};
    /// use kernel::alloc_tag::maple_tree::MapleTree;
    /// use kernel::error::code::{EBUSY, EINVAL};
    ///
    /// let tree = KBox::pin_init(MapleTree::<KBox<u32>>::new(), GFP_KERNEL)?;
    /// let mut mt = tree.lock();
    /// let v = |n| KBox::new(n, GFP_KERNEL);
    ///
    /// // An area of 0x1000 indexes whose first 0x110 are in use.
    /// mt.insert_range(0, 0x10f, v(0)?, GFP_KERNEL)?;
    /// assert_eq!(mt.find_empty(0x10, 1, 0, 0xfff)?, 0x110);
    /// assert_eq!(mt.find_empty(0x10, 0x40, 0, 0xfff)?, 0x140);
    ///
    /// // The first free index, 0x110, is not a multiple of 0x100.
    /// assert_eq!(mt.alloc_range(0x100, 0x100, 0, 0xfff, v(1)?, GFP_KERNEL)?, 0x200);
    /// // 0x110 fits 0x80, but aligned to 0x100 it is 0x200, in use: next is 0x300.
    /// assert_eq!(mt.alloc_range(0x80, 0x100, 0, 0xfff, v(2)?, GFP_KERNEL)?, 0x300);
    /// assert_eq!(mt.load(0x37f).copied(), Some(2));
    /// assert!(mt.load(0x380).is_none());
    /// // The search starts at `min` and stays below `max`.
    /// assert_eq!(mt.alloc_range(0x80, 0x80, 0x500, 0x5ff, v(3)?, GFP_KERNEL)?, 0x500);
    /// assert_eq!(mt.find_empty(0x80, 0x80, 0x500, 0x5ff)?, 0x580);
    /// assert!(mt.find_empty(0x81, 0x80, 0x500, 0x5ff) == Err(EBUSY));
    ///
    /// // An alignment the free space cannot honour: 0x800 indexes are free
    /// // from 0x800, but the only multiple of 0x1000 in the area, 0, is in use.
    /// assert_eq!(mt.find_empty(0x800, 0x800, 0, 0xfff)?, 0x800);
    /// assert!(mt.find_empty(0x800, 0x1000, 0, 0xfff) == Err(EBUSY));
    /// let err = mt.alloc_range(0x800, 0x1000, 0, 0xfff, v(4)?, GFP_KERNEL).unwrap_err();
    /// assert!(err.error == EBUSY);
    /// assert_eq!(*err.value, 4);
    /// // Alignment overflowing the index space, and bad requests.
    /// let top = 1 << (usize::BITS - 1);
    /// assert_eq!(mt.find_empty(1, top, 1, usize::MAX)?, top);
    /// assert!(mt.find_empty(1, top, top + 1, usize::MAX) == Err(EBUSY));
    /// assert!(mt.find_empty(0x10, 0x30, 0, 0xfff) == Err(EINVAL));
    /// assert!(mt.find_empty(0, 1, 0, 0xfff) == Err(EINVAL));
    ///
    /// // Releasing a range makes its space the first fit again.
    /// assert_eq!(mt.erase(0x200)?.map(|v| *v), Some(1));
    /// assert_eq!(mt.alloc_range(0x100, 0x100, 0, 0xfff, err.value, GFP_KERNEL)?, 0x200);
    /// assert_eq!(mt.load(0x2ff).copied(), Some(4));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn alloc_range(
        &mut self,
        size: usize,
        align: usize,
        min: usize,
        max: usize,
        value: T,
        flags: Flags,
    ) -> Result<usize, InsertError<T>> {
        let start = match self.find_empty(size, align, min, max) {
            Ok(start) => start,
            Err(error) => return Err(InsertError { value, error }),
        };
        // The lock has been held since the search: the range is still empty.
        self.insert_range(start, start + (size - 1), value, flags)?;
        Ok(start)
    }

    /// Walks the stored ranges from the highest to the lowest, as C's
    /// `mas_for_each_rev()` does.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::sync::atomic::{AtomicUsize, Ordering};
    /// use kernel::alloc::{flags::GFP_KERNEL, KBox, KVec};
    /// use kernel::alloc_tag::maple_tree::MapleTree;
    ///
    /// static DROPPED: AtomicUsize = AtomicUsize::new(0);
    /// struct Range(usize);
    /// impl Drop for Range {
    ///     fn drop(&mut self) {
    ///         DROPPED.fetch_add(1, Ordering::Relaxed);
    ///     }
    /// }
    ///
    /// let tree = KBox::pin_init(MapleTree::<KBox<Range>>::new(), GFP_KERNEL)?;
    /// let mut mt = tree.lock();
    /// assert!(mt.iter_rev().next().is_none());
    /// for (first, last) in [(0x40, 0x7f), (0, 0), (0x1000, 0x1fff), (usize::MAX, usize::MAX)] {
    ///     mt.insert_range(first, last, KBox::new(Range(first), GFP_KERNEL)?, GFP_KERNEL)?;
    /// }
    ///
    /// let mut seen = KVec::new();
    /// for (range, value) in mt.iter_rev() {
    ///     assert_eq!(*range.start(), value.0);
    ///     seen.push((*range.start(), *range.end()), GFP_KERNEL)?;
    /// }
    /// let want = [(usize::MAX, usize::MAX), (0x1000, 0x1fff), (0x40, 0x7f), (0, 0)];
    /// assert_eq!(&seen[..], &want[..]);
    ///
    /// // The erased value is dropped by its new owner, the rest with the tree.
    /// assert!(mt.erase(0x1000)?.is_some());
    /// assert_eq!(DROPPED.load(Ordering::Relaxed), 1);
    /// assert_eq!(mt.iter_rev().count(), 3);
    /// drop(mt);
    /// drop(tree);
    /// assert_eq!(DROPPED.load(Ordering::Relaxed), 4);
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn iter_rev(&self) -> IterRev<'_, T> {
        // INVARIANT: The guard is borrowed for the iterator's lifetime.
        IterRev {
            mas: self.tree.state(usize::MAX, usize::MAX),
            done: false,
            _guard: PhantomData,
        }
    }
}

/// The stored ranges of a locked [`MapleTree`] from the highest to the
/// lowest, with their values; made by [`Guard::iter_rev`].
///
/// # Invariants
///
/// `mas` is a state of a tree whose [`Guard`] is borrowed (shared) for `'a`:
/// the lock is held and the tree is not changed for all of `'a`.
pub struct IterRev<'a, T: ForeignOwnable> {
    mas: bindings::ma_state,
    done: bool,
    _guard: PhantomData<&'a Guard<'a, T>>,
}

impl<'a, T: ForeignOwnable> Iterator for IterRev<'a, T> {
    type Item = (RangeInclusive<usize>, T::Borrowed<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        // SAFETY: `mas` is a state of the initialised tree, fresh or as the
        // last `mas_find_rev()` left it, and the lock is held (invariant).
        let entry = unsafe { bindings::mas_find_rev(&mut self.mas, 0) };
        if entry.is_null() {
            self.done = true;
            return None;
        }
        // SAFETY: The entry came from `T::into_foreign` and stays in the
        // unchanged tree for `'a` (invariants), so it may be borrowed for `'a`.
        let value = unsafe { T::borrow(entry) };
        Some((self.mas.index..=self.mas.last, value))
    }
}
