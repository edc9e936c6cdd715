//! The library's front door: compile rule packs once, check patients many times.

use crate::compile::RuleGraph;
use crate::date::Date;
use crate::diagnostic::{Diagnostics, SourceMap};
use crate::eval::{self, Scratch};
use crate::ir::PackInfo;
use crate::patient::{Patient, RecordError};
use crate::report::PatientReport;
use std::path::{Path, PathBuf};

/// A compiled set of rule packs. Immutable and `Send + Sync`: share one across threads.
#[derive(Debug)]
pub struct Engine {
    graph: RuleGraph,
}

/// The format of an input record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputKind {
    /// FHIR when the record names a `resourceType`, else our own format.
    #[default]
    Auto,
    /// Our own patient format.
    Own,
    /// A FHIR R4 Bundle or resource.
    Fhir,
}

/// Why a patient record could not be checked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InputError {
    /// Not valid JSON, or not our patient format.
    #[error("{0}")]
    Json(String),
    /// A field's value cannot be used.
    #[error(transparent)]
    Record(#[from] RecordError),
}

impl Engine {
    /// Compiles the packs bundled with rxguard (the `rules/` folder, embedded at build time).
    pub fn bundled() -> Result<Engine, Diagnostics> {
        Engine::from_sources(bundled_sources())
    }

    /// Compiles packs from `(name, text)` pairs; the name is shown in diagnostics. The packs'
    /// `test` blocks are skipped: see [`Engine::from_sources_with_tests`].
    pub fn from_sources(
        sources: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Engine, Diagnostics> {
        Engine::compile(sources, false)
    }

    /// Compiles packs with their `test` blocks, checked and ready for [`crate::testing::run`].
    pub fn from_sources_with_tests(
        sources: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Engine, Diagnostics> {
        Engine::compile(sources, true)
    }

    /// The bundled packs with their tests.
    pub fn bundled_with_tests() -> Result<Engine, Diagnostics> {
        Engine::from_sources_with_tests(bundled_sources())
    }

    /// A builder: packs, their tests, a site profile.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    fn compile(
        sources: impl IntoIterator<Item = (String, String)>,
        tests: bool,
    ) -> Result<Engine, Diagnostics> {
        let (program, map) = Engine::checked(sources, tests)?;
        Ok(Engine {
            graph: RuleGraph::compile(program, map),
        })
    }

    /// The checked program of the packs, or every diagnostic.
    fn checked(
        sources: impl IntoIterator<Item = (String, String)>,
        tests: bool,
    ) -> Result<(crate::ir::Program, SourceMap), Diagnostics> {
        let mut map = SourceMap::default();
        for (name, text) in sources {
            map.add(name, without_bom(text));
        }
        match crate::check::check_with(&map, tests) {
            Ok(program) => Ok((program, map)),
            Err(items) => Err(Diagnostics {
                sources: map,
                items,
            }),
        }
    }

    /// The compiled rule graph.
    pub fn graph(&self) -> &RuleGraph {
        &self.graph
    }

    /// What the site's RxNorm relation table gave, when one was loaded.
    pub fn rxnorm_relations(&self) -> Option<&crate::patient::RelationSummary> {
        self.graph.vocabulary.index.relation_summary()
    }

    /// The loaded packs.
    pub fn packs(&self) -> &[PackInfo] {
        &self.graph.program.packs
    }

    /// Checks one patient at `as_of`, with this thread's reused scratch memory.
    pub fn check(&self, patient: &Patient<'_>, as_of: Date) -> Result<PatientReport, RecordError> {
        with_scratch(|scratch| self.check_with(scratch, patient, as_of))
    }

    /// Checks one patient, reusing `scratch` (keep one per thread to avoid allocation).
    pub fn check_with(
        &self,
        scratch: &mut Scratch,
        patient: &Patient<'_>,
        as_of: Date,
    ) -> Result<PatientReport, RecordError> {
        if let Some(why) = crate::patient::not_screened(patient, as_of)? {
            return Ok(PatientReport::not_screened(&patient.id, as_of, why));
        }
        scratch
            .facts
            .build(patient, &self.graph.vocabulary, as_of)?;
        eval::evaluate(&self.graph, scratch);
        Ok(eval::report(&self.graph, scratch, patient))
    }

    /// Reads a FHIR R4 Bundle (or one resource) and checks the patient it describes. Sections
    /// (medications, conditions, observations) with no resource in the Bundle are absent: the
    /// rules that read them are data gaps, not passes.
    pub fn check_fhir(
        &self,
        scratch: &mut Scratch,
        json: &str,
        as_of: Date,
    ) -> Result<PatientReport, InputError> {
        let resources =
            crate::fhir::Resources::parse(json).map_err(|e| InputError::Json(e.to_string()))?;
        let patient = resources
            .patient(resources.sections())
            .map_err(|e| InputError::Json(e.to_string()))?;
        Ok(self.check_with(scratch, &patient, as_of)?)
    }

    /// Checks a record of the given kind (`Auto` tells FHIR by its `resourceType`).
    pub fn check_record(
        &self,
        scratch: &mut Scratch,
        json: &str,
        as_of: Date,
        kind: InputKind,
    ) -> Result<PatientReport, InputError> {
        let fhir = match kind {
            InputKind::Auto => crate::fhir::looks_like_fhir(json),
            InputKind::Own => false,
            InputKind::Fhir => true,
        };
        if fhir {
            self.check_fhir(scratch, json, as_of)
        } else {
            self.check_json(scratch, json, as_of)
        }
    }

    /// Parses a patient record (our JSON format) and checks it.
    pub fn check_json(
        &self,
        scratch: &mut Scratch,
        json: &str,
        as_of: Date,
    ) -> Result<PatientReport, InputError> {
        let patient: Patient<'_> =
            serde_json::from_str(json).map_err(|e| InputError::Json(e.to_string()))?;
        Ok(self.check_with(scratch, &patient, as_of)?)
    }
}

/// Why an engine could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The packs have errors.
    #[error("{} error(s) in the rule packs", .0.errors().count())]
    Packs(Diagnostics),
    /// The site profile cannot be applied.
    #[error(transparent)]
    Profile(crate::profile::ProfileError),
}

/// Builds an engine: packs (the bundled ones unless given), their tests, a site profile.
#[derive(Debug, Default)]
pub struct EngineBuilder {
    sources: Option<Vec<(String, String)>>,
    tests: bool,
    profile: Option<crate::profile::Profile>,
    order_horizon_days: Option<u32>,
    on_hold_days: Option<u32>,
    rxnorm: Option<crate::patient::RxnormRelations>,
}

impl EngineBuilder {
    /// The packs, as `(name, text)` pairs.
    pub fn packs(mut self, sources: impl IntoIterator<Item = (String, String)>) -> Self {
        self.sources = Some(sources.into_iter().collect());
        self
    }

    /// Also compile the packs' `test` blocks.
    pub fn tests(mut self, yes: bool) -> Self {
        self.tests = yes;
        self
    }

    /// A site profile: rules disabled or re-graded for one hospital.
    pub fn profile(mut self, profile: crate::profile::Profile) -> Self {
        self.profile = Some(profile);
        self
    }

    /// Open orders older than this many days are history (0: no horizon); over the profile's
    /// setting and the default ([`crate::patient::StatusPolicy`]). `None` keeps those.
    pub fn order_horizon_days(mut self, days: Option<u32>) -> Self {
        self.order_horizon_days = days;
        self
    }

    /// Holds of at least this many days are interruptions for withdrawal rules; over the
    /// profile's setting and the default. `None` keeps those.
    pub fn on_hold_days(mut self, days: Option<u32>) -> Self {
        self.on_hold_days = days;
        self
    }

    /// A site's RxNorm relation table: clinical and branded drug codes resolve through it to
    /// their ingredients (see [`crate::patient::RxnormRelations`]).
    pub fn rxnorm(mut self, table: crate::patient::RxnormRelations) -> Self {
        self.rxnorm = Some(table);
        self
    }

    /// Compiles.
    pub fn build(self) -> Result<Engine, BuildError> {
        let sources = self.sources.unwrap_or_else(|| bundled_sources().collect());
        let (mut program, map) = Engine::checked(sources, self.tests).map_err(BuildError::Packs)?;
        let mut status = crate::patient::StatusPolicy::default();
        if let Some(p) = &self.profile {
            p.apply(&mut program).map_err(BuildError::Profile)?;
            status = p.status_policy(status);
        }
        status = crate::profile::with_settings(status, self.order_horizon_days, self.on_hold_days);
        let mut graph = RuleGraph::compile(program, map);
        graph.vocabulary.status = status;
        if let Some(table) = &self.rxnorm {
            graph.vocabulary.index.attach_relations(table);
        }
        Ok(Engine { graph })
    }
}

fn bundled_sources() -> impl Iterator<Item = (String, String)> {
    crate::bundled::PACKS
        .iter()
        .map(|(name, text)| (name.to_string(), text.to_string()))
}

thread_local! {
    /// Each thread's evaluation memory, reused across patients (and engines: it resizes itself).
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Runs `f` with this thread's scratch memory.
pub(crate) fn with_scratch<T>(f: impl FnOnce(&mut Scratch) -> T) -> T {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => f(&mut scratch),
        // Re-entered from within `f` (a caller's callback checking again): use a fresh one.
        Err(_) => f(&mut Scratch::default()),
    })
}

/// Reads rule packs from files and folders (every `*.rules` file under a folder, in name order).
pub fn read_packs(paths: &[PathBuf]) -> std::io::Result<Vec<(String, String)>> {
    let mut files = Vec::new();
    for path in paths {
        collect(path, &mut files)?;
    }
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p)?;
            Ok((p.display().to_string(), without_bom(text)))
        })
        .collect()
}

/// A pack's text without the UTF-8 byte-order mark some editors put first (it is not part of
/// the text, and would be a syntax error at 1:1).
fn without_bom(text: String) -> String {
    match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    }
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for e in entries {
            if e.is_dir() || e.extension().is_some_and(|x| x == "rules") {
                collect(&e, out)?;
            }
        }
    } else {
        out.push(path.to_path_buf());
    }
    Ok(())
}
