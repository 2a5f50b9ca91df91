//! The filesystem seam: the few operations the store needs, behind a trait.
//!
//! [`DiskFs`] is the real thing; [`MemFs`] keeps everything in memory (tests,
//! embedding) and can inject faults such as a full disk.

mod beneath;
mod disk;
mod hold;
mod mem;
mod traits;

pub use disk::DiskFs;
pub use hold::FolderHold;
pub use mem::MemFs;
pub use traits::{EntryKind, FileIdentity, Fs, ReadAt, too_large};
