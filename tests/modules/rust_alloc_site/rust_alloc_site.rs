// SPDX-License-Identifier: GPL-2.0

//! Rust allocations from known lines of a module, for the `rust_site_test`
//! kselftest: 16 objects of 1000 bytes from one line, their vector from
//! another, and one more object from a third, which the module hands to
//! `alloc_tag_keeper` (tests/modules/) when it is unloaded, if the keeper is
//! loaded: that row must outlive the module. Without the keeper it frees
//! it. The lines are in the kernel log at load.

use core::ffi::c_void;
use kernel::{bindings, c_str, prelude::*, str::CStr};

module! {
    type: RustAllocSite,
    name: "rust_alloc_site",
    author: "alloc_tag_rs",
    description: "Rust allocations from known lines",
    license: "GPL",
}

const OBJECTS: usize = 16;

struct RustAllocSite {
    _objects: KVec<KBox<[u8; 1000]>>,
    handed: Option<KBox<[u8; 1000]>>,
}

impl kernel::Module for RustAllocSite {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let (mut objects, vector_line) = (KVec::with_capacity(OBJECTS, GFP_KERNEL)?, line!());
        let mut object_line = 0;
        for _ in 0..OBJECTS {
            let (object, line) = (KBox::new([0u8; 1000], GFP_KERNEL)?, line!());
            objects.push(object, GFP_KERNEL)?;
            object_line = line;
        }
        let (handed, handed_line) = (KBox::new([0u8; 1000], GFP_KERNEL)?, line!());
        pr_info!("objects at line {object_line}, vector at line {vector_line}, handed over at line {handed_line}\n");
        Ok(Self {
            _objects: objects,
            handed: Some(handed),
        })
    }
}

impl Drop for RustAllocSite {
    fn drop(&mut self) {
        if let Some(object) = self.handed.take() {
            hand_to_keeper(object);
        }
    }
}

/// Gives `object` to `alloc_tag_keeper` if it is loaded; frees it if not.
fn hand_to_keeper(object: KBox<[u8; 1000]>) {
    const HOLD: &CStr = c_str!("alloc_tag_keeper_hold_obj");
    // SAFETY: A NUL-terminated name.
    let hold = unsafe { bindings::__symbol_get(HOLD.as_char_ptr()) };
    if hold.is_null() {
        return;
    }
    // SAFETY: The keeper's `void alloc_tag_keeper_hold_obj(void *obj)`
    // (alloc_tag_keeper.h), which `__symbol_get` keeps loaded.
    let hold: unsafe extern "C" fn(*mut c_void) = unsafe { core::mem::transmute(hold) };
    // SAFETY: A `kmalloc()` object (`KBox`'s allocator), which the keeper
    // frees with `kfree()`; it is not used here again.
    unsafe { hold(KBox::into_raw(object).cast()) };
    pr_info!("handed an object to alloc_tag_keeper\n");
    // SAFETY: The symbol `__symbol_get` found above.
    unsafe { bindings::__symbol_put(HOLD.as_char_ptr()) };
}
