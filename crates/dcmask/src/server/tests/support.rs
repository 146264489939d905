//! What the API's tests share: a file with identifiers in its header, named uploads,
//! downloads by link, and the entries of a zip.

use super::*;
use dicom_core::DataElement;
use dicom_object::InMemDicomObject;
use std::io::Read as _;

/// A 2×2 secondary capture with identifiers in its header (modality OT, Burned In
/// Annotation absent: pixels that may carry text), with `extra` elements put over it.
pub(super) fn with_ids(extra: &[DataElement<InMemDicomObject>]) -> Vec<u8> {
    use dicom_core::{PrimitiveValue, VR};
    use dicom_dictionary_std::tags;
    use dicom_object::meta::FileMetaTableBuilder;
    let us = |t, v: u16| DataElement::new(t, VR::US, PrimitiveValue::from(v));
    let mut obj = InMemDicomObject::from_element_iter([
        DataElement::new(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.7"),
        DataElement::new(tags::SOP_INSTANCE_UID, VR::UI, "1.2.3.4.5.6.7"),
        DataElement::new(tags::STUDY_DATE, VR::DA, "20051130"),
        DataElement::new(tags::MODALITY, VR::CS, "OT"),
        DataElement::new(tags::SERIES_DESCRIPTION, VR::LO, "HEAD SERIES"),
        DataElement::new(tags::PATIENT_NAME, VR::PN, "Quimby^Harriet"),
        DataElement::new(tags::PATIENT_ID, VR::LO, "PID-778899"),
        DataElement::new(tags::STUDY_INSTANCE_UID, VR::UI, "1.2.3.4.5"),
        DataElement::new(tags::SERIES_INSTANCE_UID, VR::UI, "1.2.3.4.5.6"),
        us(tags::ROWS, 2),
        us(tags::COLUMNS, 2),
        us(tags::BITS_ALLOCATED, 8),
        us(tags::BITS_STORED, 8),
        us(tags::HIGH_BIT, 7),
        us(tags::SAMPLES_PER_PIXEL, 1),
        us(tags::PIXEL_REPRESENTATION, 0),
        DataElement::new(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
        DataElement::new(
            tags::PIXEL_DATA,
            VR::OB,
            PrimitiveValue::from(vec![1u8, 2, 3, 4]),
        ),
    ]);
    for e in extra {
        obj.put(e.clone());
    }
    let obj = obj
        .with_meta(FileMetaTableBuilder::new().transfer_syntax("1.2.840.10008.1.2.1"))
        .unwrap();
    let mut out = Vec::new();
    obj.write_all(&mut out).unwrap();
    out
}

/// The identifiers of [`with_ids`]; none may be in what the export zip shares.
pub(super) const ORIGINAL_IDS: [&str; 6] = [
    "PID-778899",
    "Quimby",
    "1.2.3.4.5.6.7",
    "1.2.3.4.5.6",
    "1.2.3.4.5",
    "HEAD SERIES",
];

/// Region rules as `serve --region-rules` loads them, from a CSV of `rows` (the shipped
/// columns); the file is written in `dir`.
pub(super) fn region_rules(dir: &std::path::Path, rows: &str) -> RegionRules {
    let csv = dir.join("regions.csv");
    std::fs::write(&csv, format!("label,condition,x0,y0,x1,y1\n{rows}")).unwrap();
    crate::batch::Regions::load(Some(&csv)).unwrap().rules
}

impl Test {
    /// POSTs `body` (the page's Apply request) to the session's apply.
    pub(super) async fn apply(&self, sid: &str, body: &str) -> Answer {
        self.json("POST", &format!("/api/sessions/{sid}/apply"), body)
            .await
    }

    /// The export zip, fetched as the page's download link does.
    pub(super) async fn export(&self, sid: &str) -> Answer {
        self.bare(
            &format!("/api/sessions/{sid}/export.zip?token={TOKEN}"),
            &[],
        )
        .await
    }

    /// Opens `files` (name, bytes) as the page uploads them; the answer must be 200.
    pub(super) async fn upload_named(&self, sid: &str, files: &[(&str, Vec<u8>)]) -> Value {
        let boundary = "dcmaskboundary7";
        let mut body = Vec::new();
        for (name, bytes) in files {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let ct = format!("multipart/form-data; boundary={boundary}");
        let r = self
            .call(
                "POST",
                &format!("/api/sessions/{sid}/files"),
                &[("content-type", &ct)],
                Body::from(body),
            )
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        r.json()
    }

    /// A GET with only our Host and `headers`: a link the page opens (the token in its
    /// query), or a client without the token.
    pub(super) async fn bare(&self, uri: &str, headers: &[(&str, &str)]) -> Answer {
        let mut req = HttpRequest::get(uri).header("host", HOST);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }

    /// The audit log the app appends to (the test's own).
    pub(super) fn audit_log(&self) -> std::path::PathBuf {
        self._tmp.path().join(crate::audit::NAME)
    }
}

/// Every entry of a zip, decompressed: (name, bytes).
pub(super) fn zip_entries(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut f = archive.by_index(i).unwrap();
            let mut content = Vec::new();
            f.read_to_end(&mut content).unwrap();
            (f.name().unwrap().to_string(), content)
        })
        .collect()
}

pub(super) fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The node of `tag` (as `(gggg,eeee)`) in a tree answer.
pub(super) fn node(tree: &Value, tag: &str) -> Value {
    tree["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["tag"] == tag)
        .cloned()
        .unwrap_or_else(|| panic!("no {tag} in the tree"))
}
