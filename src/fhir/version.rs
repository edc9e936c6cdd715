//! Which FHIR release a Bundle is written in. R4 (4.0), R4B (4.3) and R5 (5.0) are read; any
//! other release is refused with an error naming it, so that a shape this reader does not know
//! never passes as a record with every medication unrecognized.
//!
//! The release comes from what the input declares (a `fhirVersion` element, or a versioned
//! canonical in `meta.profile` such as `...|4.0.1` or `http://hl7.org/fhir/5.0/...`), else from
//! the shape of its medication resources: R5 writes the drug as a CodeableReference
//! (`medication.concept`, `medication.reference`) and MedicationStatement `status` `recorded`
//! with `adherence`; R4 and R4B write `medicationCodeableConcept` / `medicationReference`. DSTU2's
//! MedicationOrder and STU3's MedicationStatement `taken` are earlier releases.

use super::FhirError;
use serde_json::Value;

/// A FHIR release that is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FhirVersion {
    /// Release 4 (4.0.x).
    R4,
    /// Release 4B (4.3.x): its medication resources are R4's.
    R4B,
    /// Release 5 (5.0.x).
    R5,
}

impl FhirVersion {
    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            FhirVersion::R4 => "R4",
            FhirVersion::R4B => "R4B",
            FhirVersion::R5 => "R5",
        }
    }

    /// R5's shapes (CodeableReference medications, statement adherence).
    pub fn is_r5(self) -> bool {
        self == FhirVersion::R5
    }
}

/// What one piece of evidence says: a release read, or one that is not.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    Read(FhirVersion),
    Refused(String),
}

/// A release from a version number or a release name (`4.0.1`, `4.3.0`, `5.0.0`, `R5`).
fn from_number(text: &str) -> Option<Seen> {
    let t = text.trim();
    let read = |v| Some(Seen::Read(v));
    let refused = |name: &str| Some(Seen::Refused(format!("{name} ({t})")));
    match t {
        _ if t.starts_with("4.0") || t.eq_ignore_ascii_case("r4") => read(FhirVersion::R4),
        _ if t.starts_with("4.3") || t.eq_ignore_ascii_case("r4b") => read(FhirVersion::R4B),
        _ if t.starts_with("5.0") || t.eq_ignore_ascii_case("r5") => read(FhirVersion::R5),
        _ if t.starts_with("3.") || t.eq_ignore_ascii_case("stu3") => refused("STU3"),
        _ if t.starts_with("1.0") || t.eq_ignore_ascii_case("dstu2") => refused("DSTU2"),
        _ if t.starts_with("0.") || t.starts_with("1.") => refused("a release before R4"),
        _ if t.starts_with('6') || t.eq_ignore_ascii_case("r6") => refused("R6"),
        _ if t.chars().next().is_some_and(|c| c.is_ascii_digit()) => refused("FHIR"),
        _ => None,
    }
}

/// The release a canonical URL names: `...|4.0.1`, or `http://hl7.org/fhir/5.0/...`,
/// `http://hl7.org/fhir/R4/...`.
fn from_canonical(url: &str) -> Option<Seen> {
    if let Some((_, version)) = url.rsplit_once('|') {
        return from_number(version);
    }
    let path = url.strip_prefix("http://hl7.org/fhir/")?;
    let first = path.split('/').next()?;
    if first == "StructureDefinition" {
        return None;
    }
    from_number(first)
}

/// The release a resource declares or shows by its shape.
fn evidence(v: &Value, out: &mut Vec<(Seen, String)>) {
    let kind = v.get("resourceType").and_then(Value::as_str).unwrap_or("?");
    if let Some(seen) = v
        .get("fhirVersion")
        .and_then(Value::as_str)
        .and_then(from_number)
    {
        out.push((seen, format!("{kind}.fhirVersion")));
    }
    let profiles = v.pointer("/meta/profile").and_then(Value::as_array);
    for url in profiles.into_iter().flatten().filter_map(Value::as_str) {
        if let Some(seen) = from_canonical(url) {
            out.push((seen, format!("{kind}.meta.profile {url}")));
        }
    }
    if let Some(shape) = shape(kind, v) {
        out.push(shape);
    }
}

/// The release a medication resource's shape belongs to.
fn shape(kind: &str, v: &Value) -> Option<(Seen, String)> {
    let has = |field: &str| v.get(field).is_some();
    let seen = match kind {
        "MedicationOrder" => (
            Seen::Refused("DSTU2".into()),
            "a MedicationOrder (a DSTU2 resource; R4 calls it MedicationRequest)".into(),
        ),
        "MedicationRequest" | "MedicationStatement"
            if v.get("medication").is_some_and(Value::is_object) =>
        {
            (
                Seen::Read(FhirVersion::R5),
                format!("{kind}.medication as a CodeableReference (R5)"),
            )
        }
        "MedicationStatement" if has("taken") => (
            Seen::Refused("STU3".into()),
            "MedicationStatement.taken (STU3)".into(),
        ),
        "MedicationStatement" if has("wasNotTaken") => (
            Seen::Refused("DSTU2".into()),
            "MedicationStatement.wasNotTaken (DSTU2)".into(),
        ),
        "MedicationStatement"
            if has("adherence") || v.get("status").and_then(Value::as_str) == Some("recorded") =>
        {
            (
                Seen::Read(FhirVersion::R5),
                "MedicationStatement.adherence or status recorded (R5)".into(),
            )
        }
        "MedicationRequest" | "MedicationStatement"
            if has("medicationCodeableConcept") || has("medicationReference") =>
        {
            (
                Seen::Read(FhirVersion::R4),
                format!("{kind}.medication[x] (R4 or R4B)"),
            )
        }
        _ => return None,
    };
    Some(seen)
}

/// The release of these resources (the Bundle itself first), or why they cannot be read.
pub fn detect<'a>(
    roots: impl IntoIterator<Item = &'a Value>,
    resources: &'a [Value],
) -> Result<FhirVersion, FhirError> {
    let mut seen = Vec::new();
    for v in roots.into_iter().chain(resources) {
        evidence(v, &mut seen);
    }
    if let Some((Seen::Refused(name), why)) =
        seen.iter().find(|(s, _)| matches!(s, Seen::Refused(_)))
    {
        return Err(FhirError::Version(format!(
            "FHIR {name} is not read (found {why}); rxguard reads FHIR R4, R4B and R5"
        )));
    }
    let read = |s: &Seen| match s {
        Seen::Read(v) => Some(*v),
        Seen::Refused(_) => None,
    };
    let mut chosen: Option<(FhirVersion, &str)> = None;
    for (s, why) in &seen {
        let Some(v) = read(s) else { continue };
        match chosen {
            None => chosen = Some((v, why)),
            // R4 and R4B share their medication resources; the declared one is kept.
            Some((c, _)) if c == v || (!c.is_r5() && !v.is_r5()) => {}
            Some((c, first)) => {
                return Err(FhirError::Version(format!(
                    "the input mixes FHIR releases: {} ({first}) and {} ({why}); send one release per Bundle",
                    c.name(),
                    v.name()
                )));
            }
        }
    }
    Ok(chosen.map_or(FhirVersion::R4, |(v, _)| v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn version(bundle: Value, resources: Vec<Value>) -> Result<FhirVersion, FhirError> {
        detect([&bundle], &resources)
    }

    #[test]
    fn declared_releases_are_read_or_refused_by_name() {
        let declared = |p: &str| json!({"resourceType": "Bundle", "meta": {"profile": [p]}});
        let b = |p| version(declared(p), vec![]);
        assert_eq!(
            b("http://hl7.org/fhir/StructureDefinition/Bundle|4.0.1"),
            Ok(FhirVersion::R4)
        );
        assert_eq!(
            b("http://hl7.org/fhir/StructureDefinition/Bundle|4.3.0"),
            Ok(FhirVersion::R4B)
        );
        assert_eq!(
            b("http://hl7.org/fhir/5.0/StructureDefinition/Bundle"),
            Ok(FhirVersion::R5)
        );
        let stu3 = b("http://hl7.org/fhir/StructureDefinition/Bundle|3.0.2").unwrap_err();
        assert!(stu3.to_string().contains("STU3 (3.0.2)"), "{stu3}");
        let r6 = version(
            json!({"resourceType": "Bundle", "fhirVersion": "6.0.0-ballot3"}),
            vec![],
        );
        assert!(r6.unwrap_err().to_string().contains("R6 (6.0.0-ballot3)"));
        // A profile of an implementation guide names no release.
        assert_eq!(
            b("http://hl7.org/fhir/us/core/StructureDefinition/us-core-medicationrequest"),
            Ok(FhirVersion::R4)
        );
    }

    #[test]
    fn the_shape_tells_the_release_when_nothing_is_declared() {
        let bundle = json!({"resourceType": "Bundle"});
        let r5 =
            json!({"resourceType": "MedicationRequest", "medication": {"concept": {"text": "x"}}});
        let r4 = json!({"resourceType": "MedicationRequest", "medicationCodeableConcept": {"text": "x"}});
        let order =
            json!({"resourceType": "MedicationOrder", "medicationCodeableConcept": {"text": "x"}});
        let taken = json!({"resourceType": "MedicationStatement", "taken": "y"});
        assert_eq!(
            version(bundle.clone(), vec![r5.clone()]),
            Ok(FhirVersion::R5)
        );
        assert_eq!(
            version(bundle.clone(), vec![r4.clone()]),
            Ok(FhirVersion::R4)
        );
        let dstu2 = version(bundle.clone(), vec![order])
            .unwrap_err()
            .to_string();
        assert!(
            dstu2.contains("DSTU2") && dstu2.contains("MedicationOrder"),
            "{dstu2}"
        );
        assert!(
            version(bundle.clone(), vec![taken])
                .unwrap_err()
                .to_string()
                .contains("STU3")
        );
        let mixed = version(bundle, vec![r4, r5]).unwrap_err().to_string();
        assert!(
            mixed.contains("mixes") && mixed.contains("R4") && mixed.contains("R5"),
            "{mixed}"
        );
    }
}
