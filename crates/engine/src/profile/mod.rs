//! The profile as data: PS3.15 Table E.1-1 and its action codes, the options, the HIPAA
//! Safe Harbor layer, the safe private attributes, the structural and residual layers,
//! the presence rules, custom rules and tag notation, and the vocabulary a decision is
//! spoken in. It reads only the actions' value types; everything that decides, applies
//! or records sits above it.

pub mod code;
pub mod hipaa;
pub mod layers;
pub mod options;
pub mod presence;
pub mod private;
pub mod rules;
pub mod table;
pub mod tag;
pub mod vocab;
