//! Site profiles: one hospital's settings over the bundled packs, without editing them. A small
//! TOML file disables rules or re-grades their severity; findings name the profile and its hash.
//!
//! ```toml
//! name = "St Example Hospital pharmacy"
//! version = "2026-11"
//!
//! [rules.baclofen_with_antihypertensive]
//! enabled = false            # handled by the blood-pressure protocol
//!
//! [rules.tramadol_with_seizure_cofactor]
//! severity = "major"
//!
//! [rules.cns_depressants_in_comfort_care]
//! shown = false              # local policy: not shown in comfort care; still supersedes
//!
//! [status]
//! order_horizon_days = 180   # open orders older than this are history (0: no horizon)
//! on_hold_days = 3           # a hold this long is an interruption for withdrawal rules
//! ```

use crate::ir::{Program, Severity};
use crate::patient::StatusPolicy;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// A profile as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Its name, shown in findings.
    pub name: String,
    /// Its version.
    #[serde(default)]
    pub version: Option<String>,
    /// Settings by rule name.
    #[serde(default)]
    pub rules: BTreeMap<String, RuleSetting>,
    /// How statuses are read over time.
    #[serde(default)]
    pub status: StatusSettings,
    #[serde(skip)]
    hash: String,
}

/// What a profile says about one rule.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSetting {
    /// `false` turns the rule off.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// A new severity: contraindicated, major, moderate or minor.
    #[serde(default)]
    pub severity: Option<String>,
    /// `false` withholds the rule's finding: the rule is still evaluated and still supersedes the
    /// findings it covers, but its own finding is listed as withheld by the profile, not shown.
    /// `enabled = false` instead removes the rule, and what it supersedes comes back.
    #[serde(default)]
    pub shown: Option<bool>,
}

/// A site's reading of statuses over time ([`StatusPolicy`]); what is not given keeps its
/// default.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusSettings {
    /// Open orders (active, no end) older than this many days are history; 0: no horizon.
    #[serde(default)]
    pub order_horizon_days: Option<u32>,
    /// A hold of at least this many days is an interruption for withdrawal rules.
    #[serde(default)]
    pub on_hold_days: Option<u32>,
}

/// `policy` with the settings given (a horizon of 0 days is no horizon).
pub fn with_settings(
    mut policy: StatusPolicy,
    order_horizon_days: Option<u32>,
    on_hold_days: Option<u32>,
) -> StatusPolicy {
    if let Some(days) = order_horizon_days {
        policy.order_horizon_days = (days > 0).then_some(days);
    }
    if let Some(days) = on_hold_days {
        policy.on_hold_days = days;
    }
    policy
}

/// The profile a finding was produced under.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProfileRef {
    /// Its name.
    pub name: String,
    /// Its version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The SHA-256 of its text (16 hex digits).
    pub hash: String,
}

/// Why a profile cannot be used.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("site profile: {0}")]
pub struct ProfileError(pub String);

impl Profile {
    /// Reads a profile from its TOML text.
    pub fn parse(text: &str) -> Result<Profile, ProfileError> {
        let mut p: Profile = toml::from_str(text).map_err(|e| ProfileError(e.to_string()))?;
        let digest = Sha256::digest(text.as_bytes());
        p.hash = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        Ok(p)
    }

    /// Its reference in findings.
    pub fn reference(&self) -> ProfileRef {
        ProfileRef {
            name: self.name.clone(),
            version: self.version.clone(),
            hash: self.hash.clone(),
        }
    }

    /// The status policy of this profile over `base`.
    pub fn status_policy(&self, base: StatusPolicy) -> StatusPolicy {
        with_settings(
            base,
            self.status.order_horizon_days,
            self.status.on_hold_days,
        )
    }

    /// Applies the settings to a checked program; every rule named must exist.
    pub fn apply(&self, program: &mut Program) -> Result<(), ProfileError> {
        for (name, setting) in &self.rules {
            let Some(rule) = program.rules.iter_mut().find(|r| &r.name == name) else {
                let names: Vec<&str> = program.rules.iter().map(|r| r.name.as_str()).collect();
                let help = crate::diagnostic::suggestion(name, names, || {
                    "`rxguard doc` lists the rules".to_string()
                });
                return Err(ProfileError(format!("no rule named `{name}`: {help}")));
            };
            if let Some(s) = &setting.severity {
                rule.severity = Severity::from_name(s).ok_or_else(|| {
                    ProfileError(format!(
                        "rule `{name}`: unknown severity `{s}` (contraindicated, major, moderate, minor)"
                    ))
                })?;
            }
            if setting.enabled == Some(false) {
                rule.disabled = true;
            }
            if setting.shown == Some(false) {
                rule.withheld = true;
            }
        }
        self.no_card_lowered_below_one_it_replaces(program)?;
        program.profile = Some(self.reference());
        Ok(())
    }

    /// A re-grade that puts a rule below a rule it supersedes would show a major problem as a
    /// minor one: refused, naming both (re-grade the other as well, or disable the superseding
    /// rule, and its cards come back).
    fn no_card_lowered_below_one_it_replaces(&self, program: &Program) -> Result<(), ProfileError> {
        let regraded = |name: &str| self.rules.get(name).is_some_and(|s| s.severity.is_some());
        for rule in program.rules.iter().filter(|r| !r.disabled) {
            for &s in &rule.supersedes {
                let covered = &program.rules[s];
                if covered.disabled
                    || covered.severity >= rule.severity
                    || !(regraded(&rule.name) || regraded(&covered.name))
                {
                    continue;
                }
                return Err(ProfileError(format!(
                    "with this profile `{}` ({}) would take the place of `{}` ({}), which it supersedes: re-grade them alike, or disable `{}` so that the cards it replaces come back",
                    rule.name,
                    rule.severity.name(),
                    covered.name,
                    covered.severity.name(),
                    rule.name
                )));
            }
        }
        Ok(())
    }
}
