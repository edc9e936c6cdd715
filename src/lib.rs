//! rxguard: a medication-safety rules engine.
pub mod date;
pub mod diagnostic;
pub mod syntax;
pub mod units;
pub mod check;
pub mod ir;
pub mod route;
pub mod synth;
pub mod compile;
pub mod patient;
pub mod value;
pub mod eval;
pub mod report;
pub mod batch;
pub mod bundled;
pub mod engine;

pub use engine::{Engine, InputError};
