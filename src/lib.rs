//! rxguard: a medication-safety rules engine.
pub mod batch;
pub mod bundled;
pub mod check;
pub mod compile;
pub mod date;
pub mod diagnostic;
pub mod engine;
pub mod eval;
mod fxhash;
pub mod ir;
mod key;
pub mod patient;
pub mod report;
pub mod route;
pub mod syntax;
pub mod synth;
pub mod units;
pub mod value;

pub use engine::{Engine, InputError};
