//! The configuration file: raw types as written in YAML, the validated types the rest of
//! prescale uses, defaults, validation and its errors.
//!
//! Nothing downstream sees an unchecked value: [`Config`] and [`TargetConfig`] can only be
//! built by validation (or from their defaults, which are valid).

mod types;

pub use types::*;
