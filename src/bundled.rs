//! The bundled rule packs, embedded in the library at build time.

/// `(name, text)` of each bundled pack, in load order.
pub const PACKS: &[(&str, &str)] = &[
    (
        "rules/vocabulary.rules",
        include_str!("../rules/vocabulary.rules"),
    ),
    (
        "rules/cns_depressants.rules",
        include_str!("../rules/cns_depressants.rules"),
    ),
    (
        "rules/baclofen.rules",
        include_str!("../rules/baclofen.rules"),
    ),
    (
        "rules/epilepsy.rules",
        include_str!("../rules/epilepsy.rules"),
    ),
    (
        "rules/elderly.rules",
        include_str!("../rules/elderly.rules"),
    ),
    ("rules/renal.rules", include_str!("../rules/renal.rules")),
    (
        "rules/interactions.rules",
        include_str!("../rules/interactions.rules"),
    ),
    (
        "rules/cns_burden.rules",
        include_str!("../rules/cns_burden.rules"),
    ),
];
