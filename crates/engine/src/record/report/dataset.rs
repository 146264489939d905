//! What a report is about: counts of the released objects (patients, studies, series,
//! instances, modalities, SOP classes) and a digest of their bytes. Only counts and
//! vocabulary (modality codes, SOP class UIDs) leave the builder, never an identifier.

use dicom_core::dictionary::UidDictionary;
use dicom_dictionary_std::{tags, StandardSopClassDictionary};
use dicom_object::InMemDicomObject;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

/// The identity of a released set of objects.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Dataset {
    /// Distinct Patient IDs of the outputs (objects without one counted as one patient).
    pub patients: u64,
    /// Distinct Study Instance UIDs.
    pub studies: u64,
    /// Distinct Series Instance UIDs.
    pub series: u64,
    /// Objects counted.
    pub instances: u64,
    /// Instances without a Patient ID.
    pub without_patient_id: u64,
    /// Instances per Modality.
    pub modalities: BTreeMap<String, u64>,
    /// Instances per SOP class, by UID.
    pub sop_classes: Vec<SopClassCount>,
    /// [`manifest_digest`] of the outputs' bytes, when the caller could digest them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_digest: Option<String>,
    /// The outputs digested, by their neutral output names (`file-1.dcm`,
    /// `DIR0001/IMG00001.dcm`): the manifest the content digest is made of.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub manifest: Vec<ManifestEntry>,
}

/// Instances of one SOP class.
#[derive(Debug, Clone, Serialize)]
pub struct SopClassCount {
    /// The SOP Class UID.
    pub uid: String,
    /// Its name in the standard, or a note that it is not a standard class.
    pub name: String,
    /// Objects of that class.
    pub instances: u64,
}

/// One output of the manifest: its name and the SHA-256 of its bytes (hex).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ManifestEntry {
    /// The output's neutral name (`file-1.dcm`, `DIR0001/IMG00001.dcm`).
    pub name: String,
    /// The SHA-256 of its bytes, lowercase hex.
    pub sha256: String,
}

/// Counts objects one at a time (headers are enough).
#[derive(Default)]
pub struct DatasetBuilder {
    patients: HashSet<String>,
    studies: HashSet<String>,
    series: HashSet<String>,
    instances: u64,
    without_patient_id: u64,
    modalities: BTreeMap<String, u64>,
    classes: BTreeMap<String, u64>,
}

fn text(obj: &InMemDicomObject, tag: dicom_core::Tag) -> String {
    obj.get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_matches(|c: char| c == ' ' || c == '\0').to_string())
        .unwrap_or_default()
}

impl DatasetBuilder {
    /// Counts one object (its header is enough).
    pub fn add(&mut self, obj: &InMemDicomObject) {
        self.instances += 1;
        let patient = text(obj, tags::PATIENT_ID);
        if patient.is_empty() {
            self.without_patient_id += 1;
        }
        self.patients.insert(patient);
        for (tag, set) in [
            (tags::STUDY_INSTANCE_UID, &mut self.studies),
            (tags::SERIES_INSTANCE_UID, &mut self.series),
        ] {
            let v = text(obj, tag);
            if !v.is_empty() {
                set.insert(v);
            }
        }
        let modality = text(obj, tags::MODALITY);
        *self
            .modalities
            .entry(if modality.is_empty() {
                "(none)".into()
            } else {
                modality
            })
            .or_default() += 1;
        *self
            .classes
            .entry(text(obj, tags::SOP_CLASS_UID))
            .or_default() += 1;
    }

    /// The counts of every object added.
    pub fn finish(self) -> Dataset {
        let sop_classes = self
            .classes
            .into_iter()
            .map(|(uid, instances)| SopClassCount {
                name: StandardSopClassDictionary
                    .by_uid(&uid)
                    .map(|e| e.name.to_string())
                    .unwrap_or_else(|| "(not a standard SOP class)".into()),
                uid,
                instances,
            })
            .collect();
        Dataset {
            patients: self.patients.len() as u64,
            studies: self.studies.len() as u64,
            series: self.series.len() as u64,
            instances: self.instances,
            without_patient_id: self.without_patient_id,
            modalities: self.modalities,
            sop_classes,
            content_digest: None,
            manifest: Vec::new(),
        }
    }
}

impl Dataset {
    /// Sets the content digest from the outputs' digests (any order).
    pub fn set_manifest(&mut self, mut entries: Vec<ManifestEntry>) {
        entries.sort();
        self.content_digest = Some(manifest_digest(&entries));
        self.manifest = entries;
    }
}

/// How the content digest is made, as the report states it.
pub const DIGEST_DEFINITION: &str = "SHA-256 of the manifest: one line `SHA256  NAME` per output \
     (the lowercase hex SHA-256 of its bytes, two spaces, its name), sorted by name, each \
     ending in a newline: what `sha256sum` prints, sorted";

/// `sha256:` and the hex SHA-256 of the manifest of `entries`, sorted by name
/// ([`DIGEST_DEFINITION`]).
pub fn manifest_digest(entries: &[ManifestEntry]) -> String {
    let mut sorted: Vec<&ManifestEntry> = entries.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut h = crate::record::audit::Sha256Writer::default();
    for e in sorted {
        h.update(format!("{}  {}\n", e.sha256, e.name).as_bytes());
    }
    format!("sha256:{}", h.hex())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::{DataElement, VR};

    fn obj(pid: &str, study: &str, series: &str, modality: &str) -> InMemDicomObject {
        let mut o = InMemDicomObject::new_empty();
        for (t, vr, v) in [
            (tags::PATIENT_ID, VR::LO, pid),
            (tags::STUDY_INSTANCE_UID, VR::UI, study),
            (tags::SERIES_INSTANCE_UID, VR::UI, series),
            (tags::MODALITY, VR::CS, modality),
            (tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.2"),
        ] {
            if !v.is_empty() {
                o.put(DataElement::new(t, vr, v));
            }
        }
        o
    }

    #[test]
    fn counts_patients_studies_series_and_classes() {
        let mut b = DatasetBuilder::default();
        b.add(&obj("P1", "1.1", "1.1.1", "CT"));
        b.add(&obj("P1 ", "1.1", "1.1.1", "CT"));
        b.add(&obj("P1", "1.1", "1.1.2", "SR"));
        b.add(&obj("P2", "1.2", "1.2.1", "CT"));
        b.add(&obj("", "1.3", "1.3.1", ""));
        let d = b.finish();
        assert_eq!(
            (
                d.patients,
                d.studies,
                d.series,
                d.instances,
                d.without_patient_id
            ),
            (3, 3, 4, 5, 1)
        );
        assert_eq!(d.modalities["CT"], 3);
        assert_eq!(d.modalities["(none)"], 1);
        assert_eq!(d.sop_classes[0].name, "CT Image Storage");
        assert_eq!(d.sop_classes[0].instances, 5);
    }

    #[test]
    fn the_manifest_digest_is_that_of_sorted_sha256sum_lines() {
        let a = ManifestEntry {
            name: "b.dcm".into(),
            sha256: "00".repeat(32),
        };
        let b = ManifestEntry {
            name: "a.dcm".into(),
            sha256: "11".repeat(32),
        };
        let text = format!("{}  a.dcm\n{}  b.dcm\n", "11".repeat(32), "00".repeat(32));
        let mut h = crate::record::audit::Sha256Writer::default();
        h.update(text.as_bytes());
        let want = format!("sha256:{}", h.hex());
        assert_eq!(manifest_digest(&[a.clone(), b.clone()]), want);
        assert_eq!(manifest_digest(&[b, a]), want, "order does not matter");
        // An empty set has a digest too (that of no lines).
        assert_eq!(
            manifest_digest(&[]),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
