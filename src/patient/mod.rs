//! Patients: the input record (our own JSON format) and its resolution into facts that rules
//! read: each medication identified, its route and daily dose, conditions and labs matched.

mod dose;
mod facts;
mod model;
mod relations;
mod release;
mod strength;
mod text;

pub use dose::{Conversion, DailyDose, DoseFact, DoseProblem, frequency_per_day};
pub use facts::{
    ADULT_BODY_SURFACE_M2, Bits, EntryState, LabFact, LabProblem, MedFact, NotScreened,
    PatientFacts, RecordError, StatusPolicy, body_surface_mosteller, not_screened,
};
pub use model::*;
pub use relations::{LineError, RelationError, RelationSummary, RxnormRelations};
pub use release::Release;
pub use strength::{Per, Strength};
pub use text::{MedIndex, NameHit, Resolution, ResolvedBy, TextScratch};
