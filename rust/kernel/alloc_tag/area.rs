// SPDX-License-Identifier: GPL-2.0

//! Address space reserved up front and backed by pages on demand, handed
//! out in ranges.
//!
//! The module allocation tag area is one: room for many modules' tags is
//! reserved at boot, but pages are only mapped as the used end grows, and
//! unmapped again when the ranges at the top are released.
//!
//! C header: [`include/linux/vmalloc.h`](srctree/include/linux/vmalloc.h).
//!
//! # Examples
//!
//! Ranges are reserved lowest first with the alignment asked for, pages
//! follow the highest used byte, and released space is reused.
//!
//! ```
//! use kernel::alloc::{flags::GFP_KERNEL, KBox};
//! use kernel::alloc_tag::area::{Area, VmArea};
//! use kernel::error::code::{EBUSY, EINVAL};
//! use kernel::page::PAGE_SIZE;
//!
//! // A size that is not a multiple of pages is the capacity all the same.
//! let small = VmArea::reserve(100)?;
//! assert_eq!(small.capacity(), 100);
//! drop(small);
//!
//! let area = KBox::pin_init(Area::<u32>::new(VmArea::reserve(8 * PAGE_SIZE)?), GFP_KERNEL)?;
//! let mut a = area.lock();
//! assert_eq!(a.capacity(), 8 * PAGE_SIZE);
//! assert_eq!((a.used(), a.populated(), a.ranges()), (0, 0, 0));
//!
//! // The first range maps the first page, and the memory is there.
//! let r1 = a.alloc(100, 8, 1)?;
//! assert_eq!(r1, a.base());
//! assert_eq!((a.used(), a.populated()), (100, PAGE_SIZE));
//! // SAFETY: `r1..r1 + 100` is the range just reserved, which is mapped.
//! unsafe {
//!     core::ptr::write_bytes(r1 as *mut u8, 0x5a, 100);
//!     assert_eq!(*((r1 + 99) as *const u8), 0x5a);
//! }
//!
//! // Alignment is honoured, and a range crossing pages maps both.
//! let r2 = a.alloc(PAGE_SIZE, 64, 2)?;
//! assert_eq!(r2, a.base() + 128);
//! assert_eq!(a.populated(), 2 * PAGE_SIZE);
//! let r3 = a.alloc(3 * PAGE_SIZE, PAGE_SIZE, 3)?;
//! assert_eq!(r3, a.base() + 2 * PAGE_SIZE);
//! assert_eq!(a.populated(), 5 * PAGE_SIZE);
//! assert_eq!((a.ranges(), a.used()), (3, 100 + PAGE_SIZE + 3 * PAGE_SIZE));
//!
//! // Alignments above a page cannot be honoured, nor can a full area.
//! assert!(a.alloc(8, 2 * PAGE_SIZE, 4) == Err(EINVAL));
//! assert!(a.alloc(4 * PAGE_SIZE, 8, 4) == Err(EBUSY));
//! assert!(a.alloc(0, 8, 4) == Err(EINVAL));
//! assert!(a.fits(3 * PAGE_SIZE, 8) && !a.fits(3 * PAGE_SIZE + 1, 8));
//!
//! // The ranges from the top down, with their values.
//! let mut seen = [0u32; 3];
//! for (i, (start, len, v)) in a.iter_rev().enumerate() {
//!     seen[i] = *v;
//!     assert!(start == r1 && len == 100 || start == r2 || start == r3);
//! }
//! assert_eq!(seen, [3, 2, 1]);
//!
//! // Releasing the top range unmaps its pages; a lower one maps nothing away.
//! assert_eq!(a.release(r3)?, Some(3));
//! assert_eq!(a.populated(), 2 * PAGE_SIZE);
//! assert_eq!(a.release(r1 + 50)?, Some(1));
//! assert_eq!(a.populated(), 2 * PAGE_SIZE);
//! assert_eq!(a.release(r1)?, None);
//! // The hole at the bottom is reused first.
//! assert_eq!(a.alloc(128, 8, 5)?, r1);
//! assert_eq!(a.get(r1 + 127).copied(), Some(5));
//! assert_eq!(a.release(r2)?, Some(2));
//! assert_eq!((a.ranges(), a.used(), a.populated()), (1, 128, PAGE_SIZE));
//! # Ok::<(), Error>(())
//! ```

use super::maple_tree::{Guard, MapleTree};
use crate::{
    alloc::{flags, KBox, KVec},
    bindings,
    error::{code::*, to_result, Result},
    init::PinInit,
    page::{Page, PAGE_SIZE},
    prelude::*,
};
use core::{cell::UnsafeCell, ptr, ptr::NonNull};

/// Address space without memory behind it (a `VM_SPARSE` vmalloc area),
/// mapped from its start as far as [`VmArea::populate`] is asked to.
///
/// # Invariants
///
/// `vm` is a `VM_SPARSE` area owned by `self`, of at least `size` bytes;
/// exactly its first `pages.len()` pages are mapped, `pages[i]` at page `i`,
/// and nothing else.
pub struct VmArea {
    vm: NonNull<bindings::vm_struct>,
    size: usize,
    pages: KVec<Page>,
}

// SAFETY: The area and its pages belong to `self` and may be handed to any
// thread; changing them takes `&mut self`.
unsafe impl Send for VmArea {}
// SAFETY: Through `&self` only addresses and sizes are read.
unsafe impl Sync for VmArea {}

impl VmArea {
    /// Reserves `size` bytes (rounded up to pages) of vmalloc space.
    pub fn reserve(size: usize) -> Result<Self> {
        // SAFETY: No requirements; the result is checked.
        let vm = unsafe { bindings::get_vm_area(size as _, bindings::VM_SPARSE as _) };
        Self::from_vm(vm, size)
    }

    /// Reserves `size` bytes of module data address space (`execmem_vmap()`),
    /// which module code can reach as it reaches its own data.
    pub fn reserve_module_data(size: usize) -> Result<Self> {
        // SAFETY: No requirements; the result is checked.
        let vm = unsafe { bindings::execmem_vmap(size) };
        Self::from_vm(vm, size)
    }

    fn from_vm(vm: *mut bindings::vm_struct, size: usize) -> Result<Self> {
        // INVARIANT: A new sparse area of `size` bytes or more (rounded up
        // to pages), nothing mapped, owned from here.
        Ok(Self {
            vm: NonNull::new(vm).ok_or(ENOMEM)?,
            size,
            pages: KVec::new(),
        })
    }

    /// Returns the first address of the area.
    #[inline]
    pub fn base(&self) -> usize {
        // SAFETY: `vm` is valid while `self` owns it (invariant).
        unsafe { (*self.vm.as_ptr()).addr as usize }
    }

    /// Returns the size asked for (the area itself is rounded up to pages).
    #[inline]
    pub fn capacity(&self) -> usize {
        self.size
    }

    /// Returns how many bytes from the start are backed by pages.
    #[inline]
    pub fn populated(&self) -> usize {
        self.pages.len() * PAGE_SIZE
    }

    /// Maps pages so that the first `end` bytes are backed.
    ///
    /// Fails with `ENOMEM` (and maps nothing new) if pages or memory for the
    /// page tables cannot be had, `ERANGE` past the end of the area.
    pub fn populate(&mut self, end: usize) -> Result {
        if end > self.capacity() {
            return Err(ERANGE);
        }
        let want = end.div_ceil(PAGE_SIZE);
        let have = self.pages.len();
        if want <= have {
            return Ok(());
        }
        self.pages.reserve(want - have, flags::GFP_KERNEL)?;
        let mut raw = KVec::with_capacity(want - have, flags::GFP_KERNEL)?;
        let mut new = KVec::with_capacity(want - have, flags::GFP_KERNEL)?;
        for _ in have..want {
            let page = Page::alloc_page(flags::GFP_KERNEL | flags::__GFP_ZERO)?;
            raw.push(page.as_ptr(), flags::GFP_KERNEL)?;
            new.push(page, flags::GFP_KERNEL)?;
        }
        let start = self.base() + have * PAGE_SIZE;
        let stop = self.base() + want * PAGE_SIZE;
        // SAFETY: `vm` is a sparse area (invariant), `start..stop` lies in it
        // and is unmapped (pages from `have` on are not), and `raw` holds one
        // page per page of it.
        let mapped = to_result(unsafe {
            bindings::vm_area_map_pages(self.vm.as_ptr(), start as _, stop as _, raw.as_mut_ptr())
        });
        if let Err(e) = mapped {
            // A failure can leave part of the range mapped: unmap it all
            // before the pages are freed (with `new`).
            // SAFETY: `start..stop` lies in the sparse area and holds none
            // of the pages of `self.pages`.
            unsafe { bindings::vm_area_unmap_pages(self.vm.as_ptr(), start as _, stop as _) };
            return Err(e);
        }
        // SAFETY: `start..stop` was just mapped; with KASAN_VMALLOC its
        // shadow is poisoned until now.
        unsafe { bindings::kasan_unpoison_vmalloc(start as *const _, (stop - start) as _) };
        // What the area holds may be the only pointer to memory kmemleak
        // tracks: each page is an object it scans and never reports.
        for page in (start..stop).step_by(PAGE_SIZE) {
            // SAFETY: The page was just mapped; it is unregistered before
            // it is unmapped (`depopulate`).
            unsafe {
                bindings::kmemleak_alloc(page as *const _, PAGE_SIZE, 0, bindings::GFP_KERNEL)
            };
        }
        // Room for the new pages was reserved above: moving them in cannot
        // fail (a failure now would free mapped pages).
        let spare = self.pages.spare_capacity_mut();
        let mut n = 0;
        for (slot, page) in spare.iter_mut().zip(new) {
            slot.write(page);
            n += 1;
        }
        // SAFETY: The `n` slots past the length were just written (all of
        // `new`, as the room was reserved, so `have + n == want`).
        // INVARIANT: Pages `have..want` are mapped, in this order.
        unsafe { self.pages.set_len(have + n) };
        Ok(())
    }

    /// Unmaps and frees the pages past the first `end` bytes.
    pub fn depopulate(&mut self, end: usize) {
        let keep = end.div_ceil(PAGE_SIZE);
        let have = self.pages.len();
        if keep >= have {
            return;
        }
        let start = self.base() + keep * PAGE_SIZE;
        let stop = self.base() + have * PAGE_SIZE;
        for page in (start..stop).step_by(PAGE_SIZE) {
            // SAFETY: `populate` registered each mapped page with kmemleak.
            unsafe { bindings::kmemleak_free(page as *const _) };
        }
        // SAFETY: `start..stop` is mapped (invariant); nothing in it is used
        // any more, which the caller asked for.
        unsafe {
            bindings::kasan_poison_vmalloc(start as *const _, (stop - start) as _);
            bindings::vm_area_unmap_pages(self.vm.as_ptr(), start as _, stop as _);
        }
        let tail: *mut [Page] = &mut self.pages.as_mut_slice()[keep..];
        // SAFETY: The vector is cut to the pages still mapped, then the
        // others, which it no longer owns, are dropped (freed) once.
        // INVARIANT: The pages of `start..stop` are no longer mapped.
        unsafe {
            self.pages.set_len(keep);
            ptr::drop_in_place(tail);
        }
    }
}

impl Drop for VmArea {
    fn drop(&mut self) {
        self.depopulate(0);
        // SAFETY: `vm` is owned by `self` and nothing is mapped in it any more.
        unsafe { bindings::free_vm_area(self.vm.as_ptr()) };
    }
}

/// A [`VmArea`] handed out in ranges, each with a value of type `T`.
///
/// Ranges and gaps are kept in a maple tree indexed by offset from the start
/// of the area; the area is backed up to the end of the highest range.
///
/// # Invariants
///
/// `vm` is only used with the tree's lock held, and every stored range lies
/// within `vm.populated()`.
#[pin_data]
pub struct Area<T: Send + Sync + 'static> {
    #[pin]
    tree: MapleTree<KBox<T>>,
    vm: UnsafeCell<VmArea>,
}

// SAFETY: `vm` is only used under the tree's lock (invariant); the tree is
// `Sync` for `Send + Sync` values.
unsafe impl<T: Send + Sync + 'static> Sync for Area<T> {}
// SAFETY: Everything in the area may move to another thread with it.
unsafe impl<T: Send + Sync + 'static> Send for Area<T> {}

impl<T: Send + Sync + 'static> Area<T> {
    /// Creates an initialiser for an area with no ranges over `vm`.
    pub fn new(vm: VmArea) -> impl PinInit<Self> {
        pin_init!(Self {
            tree <- MapleTree::new(),
            vm: UnsafeCell::new(vm),
        })
    }

    /// Locks the area, which may sleep.
    pub fn lock(&self) -> AreaGuard<'_, T> {
        AreaGuard {
            tree: self.tree.lock(),
            // SAFETY: The tree's lock, just taken, makes this the only
            // reference to `vm` for the life of the guard (invariant).
            vm: unsafe { &mut *self.vm.get() },
        }
    }
}

/// A locked [`Area`].
pub struct AreaGuard<'a, T: Send + Sync + 'static> {
    tree: Guard<'a, KBox<T>>,
    vm: &'a mut VmArea,
}

impl<T: Send + Sync + 'static> AreaGuard<'_, T> {
    /// Returns the first address of the area.
    #[inline]
    pub fn base(&self) -> usize {
        self.vm.base()
    }

    /// Returns the size of the area.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.vm.capacity()
    }

    /// Returns how many bytes from the start are backed by pages.
    #[inline]
    pub fn populated(&self) -> usize {
        self.vm.populated()
    }

    /// Returns whether `addr` is in the area.
    #[inline]
    pub fn contains(&self, addr: usize) -> bool {
        addr.wrapping_sub(self.base()) < self.capacity()
    }

    /// Returns the number of ranges.
    pub fn ranges(&self) -> usize {
        self.tree.iter_rev().count()
    }

    /// Returns the bytes in all ranges.
    pub fn used(&self) -> usize {
        self.tree
            .iter_rev()
            .map(|(r, _)| r.end() - r.start() + 1)
            .sum()
    }

    /// Returns whether a range of `size` bytes aligned to `align` would fit.
    pub fn fits(&self, size: usize, align: usize) -> bool {
        align <= PAGE_SIZE && self.find(size, align).is_ok()
    }

    /// Finds the offset from [`AreaGuard::base`] of the lowest free range of
    /// `size` bytes aligned to `align`: where [`AreaGuard::alloc`] would put
    /// it. `EBUSY` if there is none.
    pub fn find(&self, size: usize, align: usize) -> Result<usize> {
        let last = self.capacity().checked_sub(1).ok_or(EBUSY)?;
        self.tree.find_empty(size, align, 0, last)
    }

    /// Reserves the lowest range of `size` bytes at an address that is a
    /// multiple of `align`, backs it with pages, stores `value` with it and
    /// returns its address.
    ///
    /// Fails with `EINVAL` for a zero size or an alignment that is not a
    /// power of two up to `PAGE_SIZE`, `EBUSY` if no such range is free,
    /// `ENOMEM` if memory for it could not be had; the value is dropped.
    pub fn alloc(&mut self, size: usize, align: usize, value: T) -> Result<usize> {
        if align > PAGE_SIZE {
            return Err(EINVAL);
        }
        let value = KBox::new(value, flags::GFP_KERNEL)?;
        let start = self.find(size, align)?;
        if let Err(e) = self.vm.populate(start + size) {
            self.shrink();
            return Err(e);
        }
        // INVARIANT: The range was populated above.
        if let Err(e) = self
            .tree
            .insert_range(start, start + size - 1, value, flags::GFP_KERNEL)
        {
            self.shrink();
            return Err(e.error);
        }
        Ok(self.base() + start)
    }

    /// Borrows the value of the range that contains `addr`.
    pub fn get(&self, addr: usize) -> Option<&T> {
        self.tree.load(addr.wrapping_sub(self.base()))
    }

    /// Releases the range that contains `addr`, unmaps the pages above the
    /// highest range left, and returns the range's value (`None` if `addr`
    /// is in no range).
    ///
    /// `ENOMEM` if the maple tree could not get the memory to erase the
    /// range; it then stays.
    pub fn release(&mut self, addr: usize) -> Result<Option<T>> {
        let value = self.tree.erase(addr.wrapping_sub(self.base()))?;
        self.shrink();
        Ok(value.map(KBox::into_inner))
    }

    /// Releases every range `idle` picks, handing each one's address, size
    /// and value to `drop_range` while its memory is still mapped, then
    /// unmaps the pages above the highest range left. Returns how many were
    /// released.
    ///
    /// For ranges kept past their owner's life that are freed lazily, when
    /// the caller next needs space. A range the maple tree cannot erase (no
    /// memory) stays, for the next time.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::alloc::{flags::GFP_KERNEL, KBox, KVec};
    /// use kernel::alloc_tag::area::{Area, VmArea};
    /// use kernel::page::PAGE_SIZE;
    ///
    /// // Values: (owner still alive, bytes still in use).
    /// let area = KBox::pin_init(Area::new(VmArea::reserve(4 * PAGE_SIZE)?), GFP_KERNEL)?;
    /// let mut a = area.lock();
    /// let r1 = a.alloc(PAGE_SIZE, 8, (false, 0))?;
    /// let r2 = a.alloc(PAGE_SIZE, 8, (false, 5))?;
    /// let r3 = a.alloc(PAGE_SIZE, 8, (true, 0))?;
    /// let r4 = a.alloc(PAGE_SIZE, 8, (false, 0))?;
    /// assert_eq!(a.populated(), 4 * PAGE_SIZE);
    /// // Full: nothing more fits until idle ranges are reclaimed.
    /// assert!(!a.fits(8, 8));
    ///
    /// // Ranges of gone owners with nothing in use go; their memory is
    /// // still there when they do.
    /// let mut gone = KVec::new();
    /// let n = a.reclaim(
    ///     |_, _, &(alive, in_use)| !alive && in_use == 0,
    ///     |start, len, v| {
    ///         // SAFETY: The range is still mapped while it is dropped.
    ///         unsafe { core::ptr::write_bytes(start as *mut u8, 0, len) };
    ///         let _ = gone.push((start, v), GFP_KERNEL);
    ///     },
    /// );
    /// assert_eq!(n, 2);
    /// assert_eq!(&gone[..], &[(r4, (false, 0)), (r1, (false, 0))]);
    /// // The top range went, so did its page; the bottom one is a hole.
    /// assert_eq!((a.ranges(), a.populated()), (2, 3 * PAGE_SIZE));
    /// assert_eq!(a.alloc(PAGE_SIZE, 8, (true, 0))?, r1);
    /// assert!(a.get(r2).is_some() && a.get(r3).is_some() && a.get(r4).is_none());
    ///
    /// // Nothing idle: nothing changes.
    /// assert_eq!(a.reclaim(|_, _, _| false, |_, _, _| {}), 0);
    /// assert_eq!(a.ranges(), 3);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn reclaim(
        &mut self,
        mut idle: impl FnMut(usize, usize, &T) -> bool,
        mut drop_range: impl FnMut(usize, usize, T),
    ) -> usize {
        let mut picked = KVec::new();
        for (start, len, v) in self.iter_rev() {
            if idle(start, len, v) && picked.push((start, len), flags::GFP_KERNEL).is_err() {
                break;
            }
        }
        let mut released = 0;
        for (start, len) in picked {
            if let Ok(Some(v)) = self.tree.erase(start - self.base()) {
                drop_range(start, len, KBox::into_inner(v));
                released += 1;
            }
        }
        self.shrink();
        released
    }

    /// Walks the ranges from the highest: address, size and value.
    pub fn iter_rev(&self) -> impl Iterator<Item = (usize, usize, &T)> + '_ {
        let base = self.base();
        self.tree
            .iter_rev()
            .map(move |(r, v)| (base + r.start(), r.end() - r.start() + 1, v))
    }

    /// Unmaps the pages above the highest range.
    fn shrink(&mut self) {
        let top = self.tree.iter_rev().next().map_or(0, |(r, _)| r.end() + 1);
        // INVARIANT: Every range ends at or below `top`.
        self.vm.depopulate(top);
    }
}
