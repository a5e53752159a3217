// SPDX-License-Identifier: GPL-2.0

//! Rust allocations from known lines of a module, for the `rust_site_test`
//! kselftest: 16 objects of 1000 bytes from one line, their vector from
//! another, and one more object from a third, which the module leaks when
//! it is unloaded, on purpose: its row must outlive the module. The lines
//! are in the kernel log at load.

use kernel::prelude::*;

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
    leaked: Option<KBox<[u8; 1000]>>,
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
        let (leaked, leaked_line) = (KBox::new([0u8; 1000], GFP_KERNEL)?, line!());
        pr_info!("objects at line {object_line}, vector at line {vector_line}, leaked at line {leaked_line}\n");
        Ok(Self {
            _objects: objects,
            leaked: Some(leaked),
        })
    }
}

impl Drop for RustAllocSite {
    fn drop(&mut self) {
        if let Some(object) = self.leaked.take() {
            KBox::leak(object);
        }
    }
}
