//! One patient bucket at a time: its lines sorted by patient, each patient's resources made
//! into one Bundle and checked in parallel, the reports written in order. A bucket over twice
//! its budget is first split by the next bits of the hash, streaming, so memory never holds
//! more than about twice the budget (or one patient, if a single patient is larger).

use super::source::Source;
use super::spill::{self, Buckets, Kind, Spilled};
use super::{BulkError, BulkOptions, BulkStats};
use crate::batch::{RecordOutcome, Render, Summary};
use crate::engine::{Engine, InputKind};
use rayon::prelude::*;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

/// Bits of the hash a split uses: sixteen sub-buckets.
const SPLIT_BITS: u32 = 4;

/// The grouping pass.
pub struct Grouping<'a, W: Write> {
    pub engine: &'a Engine,
    pub sources: &'a [Source],
    pub options: &'a BulkOptions<'a>,
    pub format: Render<'a>,
    pub out: &'a mut W,
    pub summary: &'a mut Summary,
    pub stats: &'a mut BulkStats,
    pub temp: &'a Path,
}

/// One patient checked.
struct Checked {
    text: String,
    counted: Summary,
    patient: Option<String>,
    /// Patient resources with this id: more than one is a repeated id.
    patient_resources: usize,
    input: String,
    line: usize,
}

impl<W: Write> Grouping<'_, W> {
    /// Checks every patient of the bucket file at `path`, whose hashes share their first
    /// `used` bits.
    pub fn bucket(&mut self, path: &Path, used: u32, label: &str) -> Result<(), BulkError> {
        let size = std::fs::metadata(path).map_err(BulkError::Spill)?.len();
        if size > self.options.bucket_bytes.saturating_mul(2) && used < 64 {
            for (i, sub) in self.split(path, used, label)?.iter().enumerate() {
                self.bucket(sub, used + SPLIT_BITS, &format!("{label}.{i}"))?;
            }
            return Ok(());
        }
        self.stats.largest_bucket = self.stats.largest_bucket.max(size);
        let mut records = spill::read_all(path).map_err(BulkError::Spill)?;
        let _ = std::fs::remove_file(path);
        records.sort_unstable_by(|a, b| {
            (a.hash, &a.key, a.kind, a.source, a.line)
                .cmp(&(b.hash, &b.key, b.kind, b.source, b.line))
        });
        let groups: Vec<&[Spilled]> = records
            .chunk_by(|a, b| a.hash == b.hash && a.key == b.key)
            .collect();
        let (engine, sources, options, format) =
            (self.engine, self.sources, self.options, self.format);
        let check = || -> Vec<Checked> {
            groups
                .par_iter()
                .map(|g| patient(engine, sources, options, format, g))
                .collect()
        };
        let checked = match self.options.batch.pool {
            Some(pool) => pool.install(check),
            None => check(),
        };
        for c in checked {
            self.summary.merge(&c.counted);
            if let Some(id) = &c.patient {
                for _ in 0..c.patient_resources.max(1) {
                    self.summary.note_id(id, &c.input, c.line);
                }
            }
            self.out
                .write_all(c.text.as_bytes())
                .map_err(BulkError::Write)?;
        }
        Ok(())
    }

    /// Streams the bucket into sixteen sub-buckets by its next bits.
    fn split(&mut self, path: &Path, used: u32, label: &str) -> Result<Vec<PathBuf>, BulkError> {
        let mut subs = Buckets::create(self.temp, &format!("{label}-split"), used, SPLIT_BITS)
            .map_err(BulkError::Spill)?;
        let file = std::fs::File::open(path).map_err(BulkError::Spill)?;
        let mut input = BufReader::with_capacity(1 << 16, file);
        while let Some(r) = Spilled::read_from(&mut input).map_err(BulkError::Spill)? {
            r.write_to(subs.writer(r.hash)).map_err(BulkError::Spill)?;
        }
        let _ = std::fs::remove_file(path);
        self.stats.splits += 1;
        subs.finish().map_err(BulkError::Spill)
    }
}

/// One patient's resources as a Bundle, checked as the FHIR reader checks a Bundle.
fn patient(
    engine: &Engine,
    sources: &[Source],
    options: &BulkOptions<'_>,
    format: Render<'_>,
    resources: &[Spilled],
) -> Checked {
    let bytes: usize = resources.iter().map(|r| r.raw.len() + 16).sum();
    let mut bundle = String::with_capacity(bytes + 64);
    bundle.push_str(r#"{"resourceType":"Bundle","type":"collection","entry":["#);
    for (i, r) in resources.iter().enumerate() {
        if i > 0 {
            bundle.push(',');
        }
        bundle.push_str(r#"{"resource":"#);
        bundle.push_str(&r.raw);
        bundle.push('}');
    }
    bundle.push_str("]}");
    // Reported where the Patient resource is (sorted first), else the first line.
    let at = &resources[0];
    let input = sources
        .get(at.source as usize)
        .map_or_else(String::new, |s| s.name.clone());
    let line = usize::try_from(at.line).unwrap_or(usize::MAX);
    let as_of = options.batch.as_of;
    let result = crate::engine::with_scratch(|scratch| {
        engine.check_record(scratch, &bundle, as_of, InputKind::Fhir)
    });
    let outcome = RecordOutcome {
        input: input.clone(),
        line,
        result,
    };
    let mut counted = Summary::default();
    counted.add(&outcome);
    Checked {
        text: format(&outcome),
        counted,
        patient_resources: resources.iter().filter(|r| r.kind == Kind::Patient).count(),
        patient: outcome.result.ok().map(|r| r.patient),
        input,
        line,
    }
}
