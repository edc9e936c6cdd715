//! Routes of administration, as rules name them and as records write them.

use serde::Serialize;

/// A route of administration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Route {
    /// By mouth.
    Oral,
    /// Into the spinal fluid (a pump or a bolus).
    Intrathecal,
    /// Into a vein.
    Intravenous,
    /// Into a muscle.
    Intramuscular,
    /// Under the skin.
    Subcutaneous,
    /// Through the skin (a patch).
    Transdermal,
    /// Under the tongue.
    Sublingual,
    /// In the cheek.
    Buccal,
    /// Rectal.
    Rectal,
    /// Nasal.
    Nasal,
    /// On the skin.
    Topical,
    /// Inhaled.
    Inhaled,
    /// Epidural.
    Epidural,
}

/// Every route, for suggestions and documentation.
pub const ROUTES: &[Route] = &[
    Route::Oral,
    Route::Intrathecal,
    Route::Intravenous,
    Route::Intramuscular,
    Route::Subcutaneous,
    Route::Transdermal,
    Route::Sublingual,
    Route::Buccal,
    Route::Rectal,
    Route::Nasal,
    Route::Topical,
    Route::Inhaled,
    Route::Epidural,
];

impl Route {
    /// The route's name in rules.
    pub fn name(self) -> &'static str {
        match self {
            Route::Oral => "oral",
            Route::Intrathecal => "intrathecal",
            Route::Intravenous => "intravenous",
            Route::Intramuscular => "intramuscular",
            Route::Subcutaneous => "subcutaneous",
            Route::Transdermal => "transdermal",
            Route::Sublingual => "sublingual",
            Route::Buccal => "buccal",
            Route::Rectal => "rectal",
            Route::Nasal => "nasal",
            Route::Topical => "topical",
            Route::Inhaled => "inhaled",
            Route::Epidural => "epidural",
        }
    }

    /// The route a rule names, exactly.
    pub fn from_rule_name(name: &str) -> Option<Route> {
        ROUTES.iter().copied().find(|r| r.name() == name)
    }

    /// The route a record writes, with the usual abbreviations, case-insensitive.
    pub fn from_record(written: &str) -> Option<Route> {
        let mut buf = [0; 32];
        let key = crate::key::ascii_key(written, b"", &mut buf)?;
        let route = match key {
            "po" | "by mouth" | "orally" | "enteral" | "per os" => Route::Oral,
            "it" | "intrathecal pump" => Route::Intrathecal,
            "iv" => Route::Intravenous,
            "im" => Route::Intramuscular,
            "sc" | "sq" | "subq" | "subcut" => Route::Subcutaneous,
            "td" | "patch" => Route::Transdermal,
            "sl" => Route::Sublingual,
            "pr" => Route::Rectal,
            "inhalation" | "inh" => Route::Inhaled,
            "intranasal" => Route::Nasal,
            _ => return Route::from_rule_name(key),
        };
        Some(route)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_write_routes_many_ways() {
        assert_eq!(Route::from_record("PO"), Some(Route::Oral));
        assert_eq!(Route::from_record("Intrathecal"), Some(Route::Intrathecal));
        assert_eq!(Route::from_record("subq"), Some(Route::Subcutaneous));
        assert_eq!(Route::from_record("by ear"), None);
    }

    #[test]
    fn rule_names_are_exact() {
        assert_eq!(Route::from_rule_name("oral"), Some(Route::Oral));
        assert_eq!(Route::from_rule_name("po"), None);
    }
}
