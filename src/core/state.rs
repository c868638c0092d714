//! Per-target state owned by the decision core.

/// Everything [`crate::core::decide`] remembers about one target between ticks.
#[derive(Debug, Clone, Default)]
pub struct TargetState {
    /// Consecutive ticks with a required metric missing.
    pub(crate) failures: u32,
}
