//! rxguard: a medication-safety rules engine.
//!
//! Clinical rule authors write checks in a small rule language (see `docs/language.md`);
//! rxguard compiles the packs once into a rule graph and checks patients' medication lists
//! against it, in microseconds per patient, from any number of threads.
//!
//! ```
//! use rxguard::{Engine, date::Date, eval::Scratch};
//!
//! // The bundled packs: CNS depressants, epilepsy, elderly (Beers 2023), baclofen.
//! let engine = Engine::bundled().expect("the bundled packs compile");
//! let patient = r#"{
//!   "id": "p1", "birth_date": "1955-04-02", "conditions": [], "labs": [],
//!   "medications": [
//!     { "id": "m1", "text": "Baclofen 10 mg tablet", "dose": { "value": 10, "unit": "mg" },
//!       "frequency": "tid", "route": "oral" },
//!     { "id": "m2", "text": "Oxycodone 5 mg tablet", "dose": { "value": 5, "unit": "mg" },
//!       "frequency": "q6h", "prn": true, "route": "oral" }
//!   ]
//! }"#;
//! let mut scratch = Scratch::default(); // keep one per thread and reuse it
//! let as_of = Date::parse("2026-11-01").unwrap();
//! let report = engine.check_json(&mut scratch, patient, as_of).expect("a valid record");
//!
//! let rules: Vec<&str> = report.findings.iter().map(|f| f.rule.as_str()).collect();
//! assert!(rules.contains(&"baclofen_with_cns_depressant"));
//! let finding = &report.findings[0];
//! println!("{}: {} ({})", finding.severity.name(), finding.message, finding.cite.join("; "));
//! ```
//!
//! The pipeline, one module per stage: [`syntax`] (pest grammar, spans) → [`check`] (names,
//! types, units, cycles; every error at once as [`diagnostic::Diagnostic`]s) → [`compile`]
//! (the petgraph rule graph, hash-consed nodes, medication index, trigger sets) → [`patient`]
//! (records resolved into facts) → [`eval`] (three-valued evaluation, provenance) → [`report`].
//! [`batch`] checks NDJSON in parallel chunks; [`Engine`] is the front door.
pub mod batch;
pub mod bulk;
pub mod bundled;
pub mod check;
pub mod compile;
pub mod date;
pub mod diagnostic;
pub mod doc;
pub mod engine;
pub mod eval;
pub mod explain;
pub mod fhir;
pub mod fmt;
mod fxhash;
pub mod ir;
mod key;
pub mod lint;
pub mod mutate;
pub mod patient;
pub mod profile;
pub mod report;
pub mod route;
#[cfg(feature = "serve")]
pub mod serve;
pub mod syntax;
pub mod synth;
pub mod testing;
pub mod units;
pub mod value;

pub use engine::{Engine, InputError};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
