//! The files of a bulk export: every `*.ndjson` / `*.ndjson.gz` file of a folder (in name
//! order), or the `output` of a `$export` manifest (FHIR Bulk Data Access, the "complete status"
//! response: `output[].type` and `output[].url`). A manifest's URLs name files beside it: the
//! last segment of each URL is looked up in the manifest's folder, since an export is read
//! here after it was downloaded.

use super::BulkError;
use serde::Deserialize;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// The resource types read from a bulk export: those the FHIR reader turns into a patient.
/// Files of other types (Encounter, Claim, ...) are passed over unread, and named.
pub const READ: &[&str] = &[
    "Patient",
    "Medication",
    "MedicationRequest",
    "MedicationStatement",
    "Condition",
    "Observation",
];

/// One NDJSON file of the export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Where it is.
    pub path: PathBuf,
    /// Its name in reports.
    pub name: String,
    /// The resource type it holds, when the manifest or its name says so.
    pub kind: Option<String>,
}

impl Source {
    /// Whether its lines are read: its type is one the reader uses, or unknown.
    pub fn is_read(&self) -> bool {
        self.kind.as_deref().is_none_or(|k| READ.contains(&k))
    }

    /// Its lines, decompressed when the name ends in `.gz`.
    pub fn open(&self) -> io::Result<Box<dyn BufRead + Send>> {
        let file = std::fs::File::open(&self.path)?;
        let reader: Box<dyn Read + Send> = if self.name.ends_with(".gz") {
            Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
                1 << 16,
                file,
            )))
        } else {
            Box::new(file)
        };
        Ok(Box::new(BufReader::with_capacity(1 << 16, reader)))
    }

    /// Bytes of text it holds, roughly: compressed files count ten times their size.
    pub fn estimated_bytes(&self) -> u64 {
        let size = std::fs::metadata(&self.path).map_or(0, |m| m.len());
        if self.name.ends_with(".gz") {
            size.saturating_mul(10)
        } else {
            size
        }
    }
}

/// The files of an export, and what was found but is not read.
#[derive(Debug, Clone, Default)]
pub struct Export {
    /// The NDJSON files.
    pub sources: Vec<Source>,
    /// Files listed and not read (the server's error files).
    pub notes: Vec<String>,
}

/// The files of the export at `path`: a folder, or a manifest file.
pub fn sources(path: &Path) -> Result<Export, BulkError> {
    if path.is_dir() {
        Ok(Export {
            sources: folder(path)?,
            notes: Vec::new(),
        })
    } else {
        manifest(path)
    }
}

fn folder(dir: &Path) -> Result<Vec<Source>, BulkError> {
    let cannot = |e: io::Error| BulkError::Unreadable(format!("{}: {e}", dir.display()));
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(cannot)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(cannot)?;
    paths.sort();
    let sources: Vec<Source> = paths
        .into_iter()
        .filter_map(|path| {
            let file = path.file_name()?.to_str()?.to_string();
            if !(file.ends_with(".ndjson") || file.ends_with(".ndjson.gz")) {
                return None;
            }
            Some(Source {
                name: path.display().to_string(),
                kind: type_in_name(&file),
                path,
            })
        })
        .collect();
    if sources.is_empty() {
        return Err(BulkError::Empty(format!(
            "{} holds no .ndjson or .ndjson.gz file",
            dir.display()
        )));
    }
    Ok(sources)
}

/// The resource type a file's name begins with (`Patient.ndjson`, `Observation.000.ndjson`,
/// `Condition-2.ndjson.gz`), when it begins with a capital letter.
fn type_in_name(file: &str) -> Option<String> {
    let word: String = file.chars().take_while(char::is_ascii_alphabetic).collect();
    word.starts_with(|c: char| c.is_ascii_uppercase())
        .then_some(word)
}

#[derive(Deserialize)]
struct Manifest {
    output: Vec<Output>,
    #[serde(default)]
    error: Vec<Output>,
}

#[derive(Deserialize)]
struct Output {
    #[serde(rename = "type")]
    kind: Option<String>,
    url: String,
}

fn manifest(path: &Path) -> Result<Export, BulkError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| BulkError::Unreadable(format!("{}: {e}", path.display())))?;
    let text = crate::batch::strip_bom(&text);
    let m: Manifest = serde_json::from_str(text).map_err(|e| {
        BulkError::Manifest(format!(
            "{} is not a bulk export manifest (output[].type, output[].url): {e}",
            path.display()
        ))
    })?;
    // The server's own errors: OperationOutcome files, not patients. Named, not read.
    let notes = m
        .error
        .iter()
        .map(|e| {
            format!(
                "the export's error file {} was not read (OperationOutcomes of the server)",
                e.url
            )
        })
        .collect();
    let dir = path.parent().unwrap_or(Path::new("."));
    let sources: Vec<Source> = m
        .output
        .into_iter()
        .map(|o| {
            let file = o
                .url
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or("")
                .split(['?', '#'])
                .next()
                .unwrap_or("")
                .to_string();
            let path = dir.join(&file);
            Source {
                name: path.display().to_string(),
                kind: o.kind.or_else(|| type_in_name(&file)),
                path,
            }
        })
        .collect();
    if sources.is_empty() {
        return Err(BulkError::Empty(format!(
            "the manifest {} lists no output file",
            path.display()
        )));
    }
    Ok(Export { sources, notes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_type_is_read_from_the_start_of_a_name() {
        assert_eq!(type_in_name("Patient.ndjson").as_deref(), Some("Patient"));
        assert_eq!(
            type_in_name("MedicationRequest-2.ndjson.gz").as_deref(),
            Some("MedicationRequest")
        );
        assert_eq!(type_in_name("output.ndjson"), None);
        assert_eq!(type_in_name("1.Patient.ndjson"), None);
    }

    #[test]
    fn a_manifest_names_files_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("manifest.json");
        std::fs::write(
            &m,
            r#"{"transactionTime": "2026-01-01T00:00:00Z", "requiresAccessToken": true,
                "output": [{"type": "Patient", "url": "https://x.example/out/p1.ndjson?x=1"},
                           {"type": "Claim", "url": "https://x.example/out/c.ndjson"}]}"#,
        )
        .unwrap();
        let s = sources(&m).unwrap().sources;
        assert_eq!(s[0].path, dir.path().join("p1.ndjson"));
        assert_eq!(s[0].kind.as_deref(), Some("Patient"));
        assert!(s[0].is_read());
        assert!(!s[1].is_read());
        std::fs::write(&m, r#"{"output": "no"}"#).unwrap();
        assert!(matches!(sources(&m), Err(BulkError::Manifest(_))));
    }
}
