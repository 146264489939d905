//! The actions' mechanics, below every policy: what cleaning text, shifting a date,
//! deriving a keyed pseudonym, writing a dummy or coarsening a value does to one value.
//! They know nothing of tables, plans or decisions, so the profile, the decider, the
//! guard, the pixel code and the risk figures can all use them.

pub mod clean;
pub mod dates;
pub mod dummy;
pub mod generalize;
pub mod key;
pub mod pseudonym;
