//! Medications across files: a MedicationRequest names `Medication/123`, and Medication 123 is
//! in another file, shared by many patients. Each medication bucket holds the Medications whose
//! id falls in it and every reference to them; loaded one at a time, each Medication referred
//! to is copied into the bucket of each patient referring to it (once per patient), so the
//! patient's Bundle holds it as a Bundle from the EHR would.

use super::spill::{self, Buckets, Kind, Spilled};
use super::{BulkError, BulkStats};
use std::collections::{HashMap, HashSet};

/// Copies the Medications referred to into the patients' buckets.
pub fn medications(
    medications: Buckets,
    patients: &mut Buckets,
    stats: &mut BulkStats,
) -> Result<(), BulkError> {
    for path in medications.finish().map_err(BulkError::Spill)? {
        let records = spill::read_all(&path).map_err(BulkError::Spill)?;
        // The file is no longer needed: free its disk before the patient buckets are read.
        let _ = std::fs::remove_file(&path);
        let mut by_id: HashMap<&str, &Spilled> = HashMap::new();
        for r in records.iter().filter(|r| r.kind == Kind::Medication) {
            // The first of two Medications sharing an id is kept.
            by_id.entry(r.key.as_str()).or_insert(r);
        }
        let mut copied: HashSet<(&str, &str)> = HashSet::new();
        for need in records.iter().filter(|r| r.kind == Kind::Need) {
            let Some(medication) = by_id.get(need.key.as_str()) else {
                // Left as it is: the reader reports the entry as a medication it cannot
                // identify, as for a Bundle without that Medication.
                stats.unresolved_medications += 1;
                continue;
            };
            if !copied.insert((need.key.as_str(), need.other.as_str())) {
                continue;
            }
            spill::write_record(
                patients.writer(need.hash),
                Kind::Medication,
                need.hash,
                medication.source,
                medication.line,
                &need.other,
                "",
                &medication.raw,
            )
            .map_err(BulkError::Spill)?;
        }
    }
    Ok(())
}
