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

/// A set of routes a rule reads: one route, or a named group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Routes(u16);

impl Routes {
    /// The routes by which a drug meant to act on the body reaches the circulation: oral,
    /// sublingual, buccal, rectal, nasal, transdermal, intravenous, intramuscular, subcutaneous.
    /// Nasal is systemic for the drugs the packs read (nasal diazepam, midazolam, fentanyl,
    /// sumatriptan, butorphanol are given by the nose to reach the blood). Not topical, inhaled,
    /// intrathecal or epidural, where a drug mostly acts where it is put.
    pub const SYSTEMIC: Routes = Routes(
        Routes::bit(Route::Oral)
            | Routes::bit(Route::Sublingual)
            | Routes::bit(Route::Buccal)
            | Routes::bit(Route::Rectal)
            | Routes::bit(Route::Nasal)
            | Routes::bit(Route::Transdermal)
            | Routes::bit(Route::Intravenous)
            | Routes::bit(Route::Intramuscular)
            | Routes::bit(Route::Subcutaneous),
    );

    const fn bit(r: Route) -> u16 {
        1 << (r as u16)
    }

    /// Just one route.
    pub fn one(r: Route) -> Routes {
        Routes(Routes::bit(r))
    }

    /// A route or group as a rule names it (`oral`, `systemic`).
    pub fn from_rule_name(name: &str) -> Option<Routes> {
        if name == "systemic" {
            return Some(Routes::SYSTEMIC);
        }
        Route::from_rule_name(name).map(Routes::one)
    }

    /// Whether `r` is in the set.
    pub fn contains(self, r: Route) -> bool {
        self.0 & Routes::bit(r) != 0
    }

    /// The name a rule writes.
    pub fn name(self) -> &'static str {
        if self == Routes::SYSTEMIC {
            return "systemic";
        }
        ROUTES
            .iter()
            .find(|r| self.contains(**r))
            .map_or("none", |r| r.name())
    }
}

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
