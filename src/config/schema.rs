//! The JSON Schema of the configuration file (for editors, and for the later CRD).

use super::raw::RawConfig;

/// JSON Schema (draft 2020-12) of the file as written.
pub fn schema() -> serde_json::Value {
    schemars::schema_for!(RawConfig).to_value()
}
