// SPDX-License-Identifier: GPL-2.0

//! Allocation tags and their per-CPU counters.

use super::codetag::CodeTag;
use crate::{bindings, types::Opaque};
use core::ptr;

/// The counters of an allocation tag summed over all CPUs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Bytes currently allocated (as C's `u64`; a transient sum may wrap).
    pub bytes: u64,
    /// Allocations currently live.
    pub calls: u64,
}

impl Counters {
    /// Returns the bytes in binary units, as `show_mem()` prints them
    /// (`string_get_size()`: "1.50 MiB", "512 B").
    pub fn size_text(&self) -> SizeText {
        let mut text = [0u8; 10];
        // SAFETY: `text` is writable for its length; `string_get_size()`
        // always NUL-terminates what it writes there.
        unsafe {
            bindings::string_get_size(
                self.bytes,
                1,
                bindings::string_size_units_STRING_UNITS_2,
                text.as_mut_ptr().cast(),
                text.len() as _,
            )
        };
        SizeText(text)
    }
}

/// A size in human units ([`Counters::size_text`]), printed with `{}`.
pub struct SizeText([u8; 10]);

impl core::fmt::Display for SizeText {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let len = self.0.iter().position(|&b| b == 0).unwrap_or(self.0.len());
        f.pad(core::str::from_utf8(&self.0[..len]).unwrap_or("?"))
    }
}

/// `codetag.flags` bit of a tag whose counters [`Tag::alloc_counters`] made
/// (C has bit 0, `CODETAG_FLAG_INACCURATE`).
const OWN_COUNTERS: u32 = 1 << 1;
const _: () = assert!(OWN_COUNTERS & bindings::CODETAG_FLAG_INACCURATE == 0);

/// `codetag.flags` keeps the tag's page index ([`Tag::page_index`]) from
/// this bit up; the flags are below it.
const PAGE_INDEX_SHIFT: u32 = 8;
const _: () = assert!((OWN_COUNTERS | bindings::CODETAG_FLAG_INACCURATE) >> PAGE_INDEX_SHIFT == 0);

/// An allocation tag (`struct alloc_tag`): a code tag and its counters.
///
/// # Invariants
///
/// `counters` points to a per-CPU `struct alloc_tag_counters` that lives as
/// long as the tag is listed by its type (module tags get theirs when their
/// module is listed, by [`Tag::alloc_counters`]).
#[repr(transparent)]
pub struct Tag(Opaque<bindings::alloc_tag>);

impl Tag {
    /// The largest page index a tag can keep ([`Tag::set_page_index`]).
    pub const MAX_PAGE_INDEX: usize = (u32::MAX >> PAGE_INDEX_SHIFT) as usize;

    /// Borrows the allocation tag that embeds a code tag.
    ///
    /// # Safety
    ///
    /// `ct` is the `ct` field of a valid `struct alloc_tag` (its tag type is
    /// the allocation tag type) that lives for `'a`.
    #[inline]
    pub unsafe fn from_codetag(ct: &CodeTag) -> &Tag {
        // `ct` is the first field of `struct alloc_tag`: `container_of()`
        // is a cast.
        const _: () = assert!(core::mem::offset_of!(bindings::alloc_tag, ct) == 0);
        // SAFETY: Per the safety requirements `ct` sits at offset 0 of a
        // valid alloc_tag; `Tag` is a transparent wrapper of it.
        unsafe { &*ptr::from_ref(ct).cast::<Tag>() }
    }

    /// Borrows the allocation tag at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` points to a valid `struct alloc_tag` that lives for `'a`.
    #[inline]
    pub unsafe fn from_raw<'a>(ptr: *const bindings::alloc_tag) -> &'a Tag {
        // SAFETY: Per the safety requirements; `Tag` is a transparent
        // wrapper of the C struct.
        unsafe { &*ptr.cast::<Tag>() }
    }

    /// Returns the raw pointer to the C struct.
    #[inline]
    pub fn as_ptr(&self) -> *mut bindings::alloc_tag {
        // A cast, not `Opaque::get()`: this is on the page allocator's hot
        // path and rustc does not inline that across crates.
        ptr::from_ref(self).cast_mut().cast()
    }

    /// Counts one call of `bytes` bytes more on this CPU, like C's
    /// `this_cpu_add()` and `this_cpu_inc()`: safe against interrupts and
    /// preemption.
    #[inline]
    pub fn add_call(&self, bytes: u64) {
        // SAFETY: By the type invariant `counters` is a valid per-CPU
        // pointer while the tag is in use.
        unsafe { this_cpu_count::<1>((*self.as_ptr()).counters, bytes) };
    }

    /// Counts one call of `bytes` bytes fewer on this CPU. The counters are
    /// `u64` and wrap, so subtracting is adding the negation.
    #[inline]
    pub fn sub_call(&self, bytes: u64) {
        // SAFETY: As in `add_call`.
        unsafe { this_cpu_count::<-1>((*self.as_ptr()).counters, bytes.wrapping_neg()) };
    }

    /// Returns the index that stands for the tag in `page->flags`
    /// (`sysctl.vm.mem_profiling=1,compressed`), as [`Tag::set_page_index`]
    /// left it in `codetag.flags`: 0 if it has none.
    ///
    /// The page allocator's hot path reads it instead of working the index
    /// out from the tag's address (a range test and a division).
    #[inline]
    pub fn page_index(&self) -> usize {
        // SAFETY: `flags` is a valid `u32` of the tag. C sets its flag bit
        // with `WRITE_ONCE()` meanwhile, so it is read as `READ_ONCE()` does.
        let flags = unsafe { ptr::read_volatile(ptr::addr_of!((*self.as_ptr()).ct.flags)) };
        (flags >> PAGE_INDEX_SHIFT) as usize
    }

    /// Keeps `index` as the tag's page index (none if it is 0, or larger
    /// than [`Tag::MAX_PAGE_INDEX`]); the flags stay.
    ///
    /// # Safety
    ///
    /// Nothing else writes the tag's `codetag.flags` meanwhile: the tag does
    /// not count yet (the kernel's tags in early boot, a module's before it
    /// runs, its type's lock held for writing).
    pub unsafe fn set_page_index(&self, index: usize) {
        let index = if index > Self::MAX_PAGE_INDEX {
            0
        } else {
            index as u32
        };
        // SAFETY: `flags` is a valid `u32` of the tag; per the safety
        // requirements no other write races with this one, and readers read
        // it as `READ_ONCE()` does.
        unsafe {
            let p = ptr::addr_of_mut!((*self.as_ptr()).ct.flags);
            let flags = ptr::read_volatile(p) & ((1 << PAGE_INDEX_SHIFT) - 1);
            ptr::write_volatile(p, flags | (index << PAGE_INDEX_SHIFT));
        }
    }

    /// Returns the tag's code tag.
    #[inline]
    pub fn ct(&self) -> &CodeTag {
        // SAFETY: `ct` is a valid code tag that lives as long as `self`.
        unsafe { CodeTag::from_raw(ptr::addr_of!((*self.0.get()).ct)) }
    }

    /// Gives a tag without counters per-CPU counters of its own (module tags
    /// get theirs when the module is loaded, not in the module's per-CPU
    /// area, so that they can outlive the module).
    ///
    /// A tag that has counters keeps them. `ENOMEM` if none could be had.
    ///
    /// # Safety
    ///
    /// The caller holds the lock of the tag's type for writing, and nothing
    /// counts with the tag yet (its module has not run).
    pub unsafe fn alloc_counters(&self) -> crate::error::Result {
        let raw = self.0.get();
        // SAFETY: `raw` is valid; the write hold keeps readers away.
        unsafe {
            if !(*raw).counters.is_null() {
                return Ok(());
            }
            // No warning of the allocator's own: the caller reports it.
            let counters = bindings::pcpu_alloc_noprof(
                core::mem::size_of::<bindings::alloc_tag_counters>(),
                core::mem::align_of::<bindings::alloc_tag_counters>(),
                false,
                bindings::GFP_KERNEL | bindings::__GFP_NOWARN,
            );
            if counters.is_null() {
                return Err(crate::error::code::ENOMEM);
            }
            // INVARIANT: Zeroed per-CPU counters, owned by the tag from now
            // until `free_counters`.
            (*raw).counters = counters.cast();
            (*raw).ct.flags |= OWN_COUNTERS;
        }
        Ok(())
    }

    /// Frees counters [`Tag::alloc_counters`] gave the tag.
    ///
    /// # Safety
    ///
    /// The caller holds the lock of the tag's type for writing, the tag is
    /// no longer listed, and nothing counts with it any more: its module is
    /// gone and every allocation it counted was freed.
    pub unsafe fn free_counters(&self) {
        let raw = self.0.get();
        // SAFETY: `raw` is valid, and per the safety requirements nobody
        // uses its counters any more.
        unsafe {
            if (*raw).ct.flags & OWN_COUNTERS != 0 {
                bindings::free_percpu((*raw).counters.cast());
                (*raw).counters = ptr::null_mut();
                (*raw).ct.flags &= !OWN_COUNTERS;
            }
        }
    }

    /// Sums the tag's counters over all possible CPUs, like `alloc_tag_read()`.
    ///
    /// Other CPUs keep counting while this reads, so the sum is a snapshot
    /// that may be a little out of date, exactly as in C.
    pub fn read(&self) -> Counters {
        // SAFETY: `counters` was set when the tag was built or listed and
        // stays while it is used.
        let percpu = unsafe { (*self.0.get()).counters };
        let mut sum = Counters::default();
        // A module tag whose counters could not be had, or were freed.
        if percpu.is_null() {
            return sum;
        }
        for cpu in possible_cpus() {
            // SAFETY: By the type invariant `percpu` is a valid per-CPU
            // pointer and `cpu` is a possible CPU, so the result points to
            // that CPU's counters.
            let c = unsafe { bindings::per_cpu_ptr(percpu.cast(), cpu) }
                .cast::<bindings::alloc_tag_counters>();
            // SAFETY: `c` is valid for reads. Its CPU updates it with
            // per-CPU adds, each one instruction on x86-64; a volatile read
            // of the aligned 64-bit word (C's reader uses a plain load) is
            // neither torn nor cached by the compiler.
            let (bytes, calls) = unsafe {
                (
                    ptr::read_volatile(ptr::addr_of!((*c).bytes)),
                    ptr::read_volatile(ptr::addr_of!((*c).calls)),
                )
            };
            sum.bytes = sum.bytes.wrapping_add(bytes);
            sum.calls = sum.calls.wrapping_add(calls);
        }
        sum
    }
}

/// Adds `bytes` and `CALLS` to this CPU's instance of the per-CPU counters
/// at `c`.
///
/// One instruction each on x86-64, as in C, so no CPU switch or interrupt
/// can come between a read and its write (`CALLS` an immediate operand);
/// elsewhere C's `this_cpu_add()`.
///
/// # Safety
///
/// `c` is a valid per-CPU pointer.
#[inline(always)]
unsafe fn this_cpu_count<const CALLS: i8>(c: *mut bindings::alloc_tag_counters, bytes: u64) {
    // SAFETY: Per the safety requirements, `c` is an offset in the per-CPU
    // segment (`%gs`) of the aligned `u64` counters; on !SMP a plain address.
    #[cfg(all(CONFIG_X86_64, CONFIG_SMP))]
    unsafe {
        core::arch::asm!(
            "add qword ptr gs:[{c} + {bytes_at}], {bytes}",
            "add qword ptr gs:[{c} + {calls_at}], {calls}",
            c = in(reg) c,
            bytes = in(reg) bytes,
            calls = const CALLS,
            bytes_at = const core::mem::offset_of!(bindings::alloc_tag_counters, bytes),
            calls_at = const core::mem::offset_of!(bindings::alloc_tag_counters, calls),
            options(nostack)
        )
    };
    // SAFETY: As above.
    #[cfg(all(CONFIG_X86_64, not(CONFIG_SMP)))]
    unsafe {
        core::arch::asm!(
            "add qword ptr [{c} + {bytes_at}], {bytes}",
            "add qword ptr [{c} + {calls_at}], {calls}",
            c = in(reg) c,
            bytes = in(reg) bytes,
            calls = const CALLS,
            bytes_at = const core::mem::offset_of!(bindings::alloc_tag_counters, bytes),
            calls_at = const core::mem::offset_of!(bindings::alloc_tag_counters, calls),
            options(nostack)
        )
    };
    // SAFETY: Per the safety requirements; the fields' addresses are
    // offsets from `c`, not dereferences.
    #[cfg(not(CONFIG_X86_64))]
    unsafe {
        bindings::alloc_tag_this_cpu_add(ptr::addr_of_mut!((*c).bytes), bytes);
        bindings::alloc_tag_this_cpu_add(ptr::addr_of_mut!((*c).calls), CALLS as i64 as u64);
    };
}

/// Iterates over the possible CPUs, like `for_each_possible_cpu()`.
fn possible_cpus() -> impl Iterator<Item = u32> {
    let mut cpu: i32 = -1;
    core::iter::from_fn(move || {
        // SAFETY: `__cpu_possible_mask` is a valid mask for the kernel's
        // lifetime and `cpu` starts at -1, as `cpumask_next()` expects.
        let next =
            unsafe { bindings::cpumask_next(cpu, ptr::addr_of!(bindings::__cpu_possible_mask)) };
        // SAFETY: `nr_cpu_ids` is set during early boot and then read-only.
        if next >= unsafe { bindings::nr_cpu_ids } {
            return None;
        }
        cpu = next as i32;
        Some(next)
    })
}
