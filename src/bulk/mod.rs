//! FHIR Bulk Data: a folder of per-resource-type NDJSON files (`.ndjson`, `.ndjson.gz`) or a
//! `$export` manifest, checked patient by patient with bounded memory.
//!
//! 1. **Spill.** Every line of the files read is typed by its `resourceType` and filed by its
//!    patient (`Patient.id`, else `subject` / `patient`) into one of `2^b` temporary bucket
//!    files, by a hash of the patient id. Medication resources are shared, not a patient's: they
//!    go to medication buckets by their own id, together with one "need" per reference to them.
//! 2. **Join.** One medication bucket at a time: each Medication referred to is copied into the
//!    bucket of every patient who refers to it.
//! 3. **Group.** One patient bucket at a time (a bucket larger than twice its budget is split by
//!    the next bits of the hash first): lines sorted by patient, each patient's resources made
//!    into one Bundle and checked by the FHIR reader, so the findings are those of the same
//!    data given as Bundles.
//!
//! Memory holds one bucket (and one medication bucket), never the population. Reports come out
//! in a fixed order: lines that cannot be read first (file and line order), then patients by
//! [`spill::patient_hash`] of their id, then id, whatever the number of buckets.

mod group;
mod join;
pub mod source;
pub mod spill;
pub mod write;

use crate::batch::{self, BatchOptions, RecordOutcome, Render, Summary};
use crate::engine::{Engine, InputError};
use serde::Deserialize;
use source::Source;
use spill::{Buckets, Kind};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Why a bulk export cannot be checked at all (a file that cannot be read among others is a
/// rejected record instead).
#[derive(Debug, thiserror::Error)]
pub enum BulkError {
    /// The folder or manifest cannot be read.
    #[error("cannot read the bulk export {0}")]
    Unreadable(String),
    /// The manifest is not one.
    #[error("{0}")]
    Manifest(String),
    /// Nothing to read.
    #[error("{0}")]
    Empty(String),
    /// The temporary bucket files cannot be written or read back.
    #[error("the temporary bucket files failed: {0}")]
    Spill(io::Error),
    /// The report cannot be written.
    #[error("cannot write the report: {0}")]
    Write(io::Error),
}

/// How a bulk export is checked.
#[derive(Debug, Clone)]
pub struct BulkOptions<'p> {
    /// The date, the thread pool and the line limit (the input kind and chunk size are not used:
    /// bulk lines are FHIR resources).
    pub batch: BatchOptions<'p>,
    /// The bytes of spilled lines one bucket should hold (32 MiB by default): memory holds
    /// about twice this at a time.
    pub bucket_bytes: u64,
    /// Where the bucket files go (the system's temporary folder by default).
    pub temp_dir: Option<PathBuf>,
}

/// The default bucket budget.
pub const DEFAULT_BUCKET_BYTES: u64 = 32 << 20;

/// What a bulk run read, besides the reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkStats {
    /// Files read.
    pub files_read: usize,
    /// Lines filed into buckets.
    pub lines: u64,
    /// Lines of a type not read, by type.
    pub ignored: BTreeMap<String, u64>,
    /// What was found and not read: files of types not read, the server's error files.
    pub notes: Vec<String>,
    /// Patient buckets at first.
    pub buckets: usize,
    /// Buckets split for being over twice the budget.
    pub splits: usize,
    /// The largest bucket loaded into memory, in bytes of its file.
    pub largest_bucket: u64,
    /// Medication references that no Medication resource of the export answers.
    pub unresolved_medications: u64,
}

/// Checks every patient of the bulk export at `path` (a folder or a manifest), writing each
/// report through `format` to `out` and counting into `summary`.
pub fn run<W: Write>(
    engine: &Engine,
    path: &Path,
    options: &BulkOptions<'_>,
    format: Render<'_>,
    out: &mut W,
    summary: &mut Summary,
) -> Result<BulkStats, BulkError> {
    let export = source::sources(path)?;
    let mut stats = BulkStats {
        notes: export.notes,
        ..BulkStats::default()
    };
    let temp = match &options.temp_dir {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .map_err(BulkError::Spill)?;
    let estimate: u64 = export
        .sources
        .iter()
        .filter(|s| s.is_read())
        .map(Source::estimated_bytes)
        .sum();
    let bits = bucket_bits(estimate, options.bucket_bytes);
    stats.buckets = 1 << bits;
    let mut patients =
        Buckets::create(temp.path(), "patients", 0, bits).map_err(BulkError::Spill)?;
    let mut medications = Buckets::create(temp.path(), "medications", 0, bits.saturating_sub(2))
        .map_err(BulkError::Spill)?;
    let before = summary.records_read;
    for (index, source) in export.sources.iter().enumerate() {
        if !source.is_read() {
            stats.notes.push(format!(
                "{} was not read: {} resources are not used by the rules",
                source.name,
                source.kind.as_deref().unwrap_or("?")
            ));
            continue;
        }
        let index = u32::try_from(index).unwrap_or(u32::MAX);
        let mut filing = Filing {
            patients: &mut patients,
            medications: &mut medications,
            stats: &mut stats,
            out: &mut *out,
            format,
            summary: &mut *summary,
        };
        filing.file(source, index, options.batch.max_record_bytes)?;
    }
    join::medications(medications, &mut patients, &mut stats)?;
    let paths = patients.finish().map_err(BulkError::Spill)?;
    let mut grouping = group::Grouping {
        engine,
        sources: &export.sources,
        options,
        format,
        out,
        summary: &mut *summary,
        stats: &mut stats,
        temp: temp.path(),
    };
    for (i, bucket) in paths.iter().enumerate() {
        grouping.bucket(bucket, bits, &format!("b{i}"))?;
    }
    if summary.records_read == before {
        summary.empty_inputs.push(path.display().to_string());
    }
    for (kind, n) in &stats.ignored {
        stats.notes.push(format!(
            "{n} {kind} line(s) in the files read were passed over: {kind} is not used by the rules"
        ));
    }
    Ok(stats)
}

/// How many bits of the hash choose a patient bucket: enough that each holds about
/// `bucket_bytes`, at most 2^9 (with the medication buckets, under 700 files open at once).
fn bucket_bits(estimate: u64, bucket_bytes: u64) -> u32 {
    let wanted = estimate.div_ceil(bucket_bytes.max(1)).max(1);
    wanted
        .checked_next_power_of_two()
        .map_or(64, u64::trailing_zeros)
        .min(9)
}

/// What the spilling reads of a line: its type, id and whose it is.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Head<'a> {
    #[serde(borrow)]
    resource_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    subject: Option<Reference<'a>>,
    #[serde(borrow)]
    patient: Option<Reference<'a>>,
    #[serde(borrow)]
    medication_reference: Option<Reference<'a>>,
    /// R5: `medication` is a CodeableReference (`{"reference": {...}}`).
    #[serde(borrow)]
    medication: Option<CodeableReference<'a>>,
}

#[derive(Deserialize)]
struct Reference<'a> {
    #[serde(borrow)]
    reference: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct CodeableReference<'a> {
    #[serde(borrow)]
    reference: Option<Reference<'a>>,
}

/// The id a reference names of a resource type: `Patient/123`, a full URL ending so,
/// `Patient/123/_history/2`, or a Bundle-internal `urn:uuid:123`.
fn referenced_id<'r>(reference: &'r str, kind: &str) -> Option<&'r str> {
    if let Some(uuid) = reference.strip_prefix("urn:uuid:") {
        return Some(uuid);
    }
    let marker = format!("{kind}/");
    let at = if reference.starts_with(&marker) {
        0
    } else {
        reference.rfind(&format!("/{marker}"))? + 1
    };
    let rest = &reference[at + marker.len()..];
    let id = rest.split('/').next()?;
    (!id.is_empty()).then_some(id)
}

/// Filing the lines of the files into buckets.
struct Filing<'a, W: Write> {
    patients: &'a mut Buckets,
    medications: &'a mut Buckets,
    stats: &'a mut BulkStats,
    out: &'a mut W,
    format: Render<'a>,
    summary: &'a mut Summary,
}

impl<W: Write> Filing<'_, W> {
    fn file(&mut self, source: &Source, index: u32, limit: usize) -> Result<(), BulkError> {
        let input = match source.open().and_then(batch::skip_bom) {
            Ok(input) => input,
            Err(e) => return self.unreadable(source, 0, &e),
        };
        self.stats.files_read += 1;
        let mut input = input;
        let mut line = Vec::new();
        let mut no = 0u64;
        loop {
            let got = match batch::read_line(&mut input, &mut line, limit) {
                Ok(got) => got,
                Err(e) => return self.unreadable(source, no as usize + 1, &e),
            };
            no += 1;
            match got {
                batch::Line::End => return Ok(()),
                batch::Line::TooLong(n) => {
                    self.reject(source, no, batch::too_long(n, limit))?;
                }
                batch::Line::Read if line.trim_ascii().is_empty() => {}
                batch::Line::Read => {
                    if let Err(why) = self.line(&line, index, no) {
                        self.reject(source, no, InputError::Json(why))?;
                    }
                }
            }
        }
    }

    /// Files one resource line; why not, when it cannot be.
    fn line(&mut self, bytes: &[u8], source: u32, no: u64) -> Result<(), String> {
        let text = std::str::from_utf8(bytes)
            .map_err(|e| format!("the line is not valid UTF-8 (at byte {})", e.valid_up_to()))?
            .trim_end();
        let head: Head<'_> = serde_json::from_str(text).map_err(|e| {
            format!(
                "not JSON: {}",
                e.to_string().replace(" at line 1 column ", " at column ")
            )
        })?;
        let kind = head
            .resource_type
            .as_deref()
            .ok_or("not a FHIR resource: no `resourceType`")?;
        if !source::READ.contains(&kind) {
            *self.stats.ignored.entry(kind.to_string()).or_default() += 1;
            return Ok(());
        }
        let spill = |e: io::Error| format!("cannot spill the line to the temporary bucket: {e}");
        if kind == "Medication" {
            let id = head
                .id
                .as_deref()
                .ok_or("a Medication without an `id` cannot be referred to")?;
            let hash = spill::patient_hash(id);
            let w = self.medications.writer(hash);
            spill::write_record(w, Kind::Medication, hash, source, no, id, "", text)
                .map_err(spill)?;
            self.stats.lines += 1;
            return Ok(());
        }
        let patient = if kind == "Patient" {
            head.id.as_deref().ok_or("a Patient without an `id`")?
        } else {
            head.subject
                .as_ref()
                .or(head.patient.as_ref())
                .and_then(|r| r.reference.as_deref())
                .and_then(|r| referenced_id(r, "Patient"))
                .ok_or_else(|| format!("{kind} without a patient reference (`subject` or `patient` naming a Patient)"))?
        };
        let hash = spill::patient_hash(patient);
        let w = self.patients.writer(hash);
        let filed = if kind == "Patient" {
            Kind::Patient
        } else {
            Kind::Resource
        };
        spill::write_record(w, filed, hash, source, no, patient, "", text).map_err(spill)?;
        self.stats.lines += 1;
        let medication = head
            .medication_reference
            .as_ref()
            .or_else(|| head.medication.as_ref()?.reference.as_ref())
            .and_then(|r| r.reference.as_deref())
            .filter(|r| !r.starts_with('#'))
            .and_then(|r| referenced_id(r, "Medication"));
        if let Some(id) = medication {
            let w = self.medications.writer(spill::patient_hash(id));
            spill::write_record(w, Kind::Need, hash, source, no, id, patient, "").map_err(spill)?;
        }
        Ok(())
    }

    fn reject(&mut self, source: &Source, no: u64, why: InputError) -> Result<(), BulkError> {
        let outcome = RecordOutcome {
            input: source.name.clone(),
            line: usize::try_from(no).unwrap_or(usize::MAX),
            result: Err(why),
        };
        self.summary.add(&outcome);
        self.out
            .write_all((self.format)(&outcome).as_bytes())
            .map_err(BulkError::Write)
    }

    fn unreadable(&mut self, source: &Source, line: usize, e: &io::Error) -> Result<(), BulkError> {
        batch::unreadable(&source.name, line, e, self.format, self.out, self.summary)
            .map_err(BulkError::Write)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_name_their_patient() {
        assert_eq!(referenced_id("Patient/p1", "Patient"), Some("p1"));
        assert_eq!(
            referenced_id("https://ehr.example/fhir/Patient/p1/_history/3", "Patient"),
            Some("p1")
        );
        assert_eq!(referenced_id("urn:uuid:1234-5", "Patient"), Some("1234-5"));
        assert_eq!(referenced_id("Group/g1", "Patient"), None);
        assert_eq!(referenced_id("Patient/", "Patient"), None);
        assert_eq!(referenced_id("RelatedPatient/p1", "Patient"), None);
        assert_eq!(referenced_id("Medication/m1", "Medication"), Some("m1"));
    }

    #[test]
    fn bucket_bits_follow_the_size() {
        assert_eq!(bucket_bits(0, 100), 0);
        assert_eq!(bucket_bits(100, 100), 0);
        assert_eq!(bucket_bits(101, 100), 1);
        assert_eq!(bucket_bits(5_000, 100), 6);
        assert_eq!(bucket_bits(u64::MAX, 1), 9);
    }
}
