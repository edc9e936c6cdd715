//! Writing a bulk export: the resources of FHIR Bundles split into one NDJSON file per resource
//! type (`Patient.ndjson`, `MedicationRequest.ndjson.gz`, ...), as a server's `$export` writes
//! them, with its manifest. For load tests and for checking that a bulk export and the same
//! data as Bundles give the same findings.

use flate2::write::GzEncoder;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// An export being written.
pub struct BulkWriter {
    dir: PathBuf,
    gzip: HashSet<String>,
    files: BTreeMap<String, Out>,
    /// Medications are shared: each id is written once.
    medications: HashSet<String>,
}

impl BulkWriter {
    /// Writes into `dir` (created if needed); the resource types in `gzip` are compressed.
    pub fn create(dir: &Path, gzip: &[&str]) -> io::Result<BulkWriter> {
        std::fs::create_dir_all(dir)?;
        Ok(BulkWriter {
            dir: dir.to_path_buf(),
            gzip: gzip.iter().map(|s| s.to_string()).collect(),
            files: BTreeMap::new(),
            medications: HashSet::new(),
        })
    }

    /// Writes every entry's resource of a Bundle.
    pub fn bundle(&mut self, bundle: &Value) -> io::Result<()> {
        for entry in bundle
            .get("entry")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(resource) = entry.get("resource") {
                self.resource(resource)?;
            }
        }
        Ok(())
    }

    /// Writes one resource as a line of its type's file.
    pub fn resource(&mut self, resource: &Value) -> io::Result<()> {
        let kind = resource
            .get("resourceType")
            .and_then(Value::as_str)
            .unwrap_or("Unknown")
            .to_string();
        if kind == "Medication" {
            let id = resource.get("id").and_then(Value::as_str).unwrap_or("");
            if !self.medications.insert(id.to_string()) {
                return Ok(());
            }
        }
        let w = match self.files.entry(kind.clone()) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                let file =
                    File::create(self.dir.join(file_name(&kind, self.gzip.contains(&kind))))?;
                let w = if self.gzip.contains(&kind) {
                    // Buffered before the encoder: serde writes in small pieces.
                    Out::Gzip(BufWriter::with_capacity(
                        1 << 16,
                        GzEncoder::new(file, flate2::Compression::fast()),
                    ))
                } else {
                    Out::Plain(BufWriter::new(file))
                };
                e.insert(w)
            }
        };
        let w: &mut dyn Write = match w {
            Out::Plain(w) => w,
            Out::Gzip(w) => w,
        };
        serde_json::to_writer(&mut *w, resource)?;
        w.write_all(b"\n")
    }

    /// Finishes the files and writes `manifest.json` beside them (a `$export` complete-status
    /// body, with `url`s relative to the folder); returns the manifest's path.
    pub fn finish(self) -> io::Result<PathBuf> {
        let mut output = Vec::new();
        for (kind, w) in self.files {
            match w {
                Out::Plain(mut w) => w.flush()?,
                Out::Gzip(w) => {
                    w.into_inner()
                        .map_err(io::IntoInnerError::into_error)?
                        .finish()?
                        .flush()?;
                }
            }
            output.push(json!({"type": kind, "url": file_name(&kind, self.gzip.contains(&kind))}));
        }
        let manifest = json!({
            "transactionTime": "1970-01-01T00:00:00Z",
            "request": "$export",
            "requiresAccessToken": false,
            "output": output,
            "error": [],
        });
        let path = self.dir.join("manifest.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&manifest)?)?;
        Ok(path)
    }
}

/// One type's file.
enum Out {
    Plain(BufWriter<File>),
    Gzip(BufWriter<GzEncoder<File>>),
}

fn file_name(kind: &str, gzip: bool) -> String {
    if gzip {
        format!("{kind}.ndjson.gz")
    } else {
        format!("{kind}.ndjson")
    }
}
