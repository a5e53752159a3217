//! Host side of the test harness: parses what the guest prints.

pub mod allocinfo;
pub mod kmsg;
pub mod ktap;
pub mod oracle;
