//! Where a target's settings come from: its own keys first, then `defaults:`, then the
//! built-in defaults (`TargetConfig::default()`), each key on its own.

use super::context::Picked;
use crate::config::locate::join;
use crate::config::raw::RawSettings;

/// A target's own settings over the inherited `defaults:`.
pub struct Layers<'a> {
    own: &'a RawSettings,
    own_path: &'a str,
    inherited: Option<&'a RawSettings>,
    /// The target's name; `None` for `defaults:` itself.
    name: Option<&'a str>,
}

impl<'a> Layers<'a> {
    /// The `defaults:` section on its own (checked once, even when there is no target).
    pub fn defaults(defaults: &'a RawSettings) -> Self {
        Self {
            own: defaults,
            own_path: "defaults",
            inherited: None,
            name: None,
        }
    }

    /// The settings of target `name` (`own`, written at `own_path`) over `defaults:`.
    pub fn target(
        name: &'a str,
        own: &'a RawSettings,
        own_path: &'a str,
        inherited: Option<&'a RawSettings>,
    ) -> Self {
        Self {
            own,
            own_path,
            inherited,
            name: Some(name),
        }
    }

    /// Whose settings these are, for messages: `target "x"` or `defaults`.
    pub fn whose(&self) -> String {
        match self.name {
            Some(name) => format!("target \"{name}\""),
            None => "defaults".to_owned(),
        }
    }

    /// The value of `key` (a dotted path below the settings, e.g. `slo.queueWait`) read by
    /// `get`, from the target if it sets it, else from `defaults:`; `None` if neither does.
    pub fn pick<T>(
        &self,
        key: &str,
        get: impl Fn(&'a RawSettings) -> Option<&'a T>,
    ) -> Option<Picked<'a, T>> {
        if let Some(value) = get(self.own) {
            return Some(Picked::new(value, join(self.own_path, key)));
        }
        let value = get(self.inherited?)?;
        Some(Picked::new(value, join("defaults", key)))
    }

    /// Whether to report a check relating several keys: always for `defaults:` itself, and
    /// for a target only if it set one of the keys (`own`); a check on inherited keys alone
    /// is reported once, for `defaults:`.
    pub fn concerns(&self, own: bool) -> bool {
        self.name.is_none() || own
    }

    /// Whether these are a target's settings (not `defaults:` itself).
    pub fn is_target(&self) -> bool {
        self.name.is_some()
    }

    /// Whether `path` belongs to the target's own keys (not inherited).
    pub fn is_own(&self, path: &str) -> bool {
        path.starts_with(self.own_path)
    }
}
