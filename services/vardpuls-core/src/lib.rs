//! The vocabulary of vardpuls, shared by every service.
//!
//! Values of the types in [`domain`] are valid by construction (they only come out of `parse`),
//! and an event that [`events::decode`] returns has passed every rule of its contract. The rest
//! of the code therefore never re-checks an HSA-id or a timestamp.

pub mod calendar;
pub mod catalogue;
pub mod dlq;
pub mod domain;
pub mod events;
pub mod outputs;
pub mod rejection;
pub mod topics;
pub mod units;

pub use rejection::Rejection;

/// The buffer of a file read or written front to back (an export, a checkpoint, a day store):
/// large enough that a file of a few megabytes takes a few system calls.
pub const FILE_BUFFER_BYTES: usize = 1 << 20;
pub use topics::Topic;
