//! rxguard: a medication-safety rules engine.
pub mod date;
pub mod diagnostic;
pub mod syntax;
pub mod units;
pub mod check;
pub mod ir;
pub mod route;
pub mod synth;
