//! Inputs that are not DICOM, or are cut short, give a typed error with a clear message
//! and never a panic.

mod common;

use common::*;
use dcmask_engine::{io, Error, Plan, ProfileId};

/// Reads and de-identifies, turning a panic into a test failure.
fn attempt(what: &str, bytes: &[u8]) -> Result<Run, Error> {
    match no_panic(what, || {
        deid_bytes(bytes, &Plan::builtin(ProfileId::Basic), &key())
    }) {
        Ok(r) => r,
        Err(p) => panic!("{p}"),
    }
}

#[test]
fn empty_file_is_not_dicom() {
    let e = attempt("empty file", b"").err().expect("must be rejected");
    assert!(matches!(e, Error::NotDicom { .. }), "{e:?}");
    assert!(e.to_string().starts_with("not a DICOM file: "), "{e}");
}

#[test]
fn text_file_is_not_dicom() {
    let text = b"Patient: Kowalczyk^Bartholomew\nThis is a plain text report, not DICOM.\n";
    let e = attempt("text file", text).err().expect("must be rejected");
    assert!(matches!(e, Error::NotDicom { .. }), "{e:?}");
    assert!(e.to_string().contains("no DICM marker"), "{e}");
    // The message never echoes the content.
    assert!(!e.to_string().contains("Kowalczyk"), "{e}");
}

#[test]
fn random_and_short_inputs_never_panic() {
    // A handful of short or odd prefixes, including a bare DICM marker and a preamble alone.
    let mut preamble = vec![0u8; 128];
    preamble.extend_from_slice(b"DICM");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("one byte", vec![0x08]),
        ("DICM alone", b"DICM".to_vec()),
        ("preamble and DICM", preamble.clone()),
        (
            "preamble, DICM and half a tag",
            [preamble.clone(), vec![2, 0]].concat(),
        ),
        ("zeros", vec![0u8; 600]),
        ("0xFF", vec![0xFFu8; 600]),
        // Group 0008 then garbage: looks like a bare data set, is not one.
        ("bare garbage", [vec![8, 0, 5, 0], vec![0xFF; 40]].concat()),
    ];
    for (what, bytes) in cases {
        let e = attempt(what, &bytes)
            .err()
            .unwrap_or_else(|| panic!("{what}: accepted"));
        assert!(
            matches!(e, Error::NotDicom { .. } | Error::Malformed { .. }),
            "{what}: {e:?}"
        );
        assert!(e.to_string().len() > 20, "{what}: terse message {e}");
    }
}

#[test]
fn truncated_files_are_malformed_and_say_so() {
    for ts in [EXPLICIT_VR_LE, IMPLICIT_VR_LE] {
        let full = synthetic_file(&Subject::first(), ts);
        // Cut inside the pixel data, then inside the last element holding the name:
        // a cut between two elements would leave a shorter but valid data set.
        let name = Subject::first().name.as_bytes();
        let in_name = Finder::new(vec![name.to_vec()]).positions(&full)[0]
            .last()
            .copied()
            .expect("the name is in the file")
            + 3;
        for cut in [full.len() - 100, in_name] {
            let what = format!("{ts} cut at {cut} of {}", full.len());
            let e = attempt(&what, &full[..cut])
                .err()
                .unwrap_or_else(|| panic!("{what}: accepted"));
            assert!(matches!(e, Error::Malformed { .. }), "{what}: {e:?}");
            let msg = e.to_string();
            assert!(msg.starts_with("unreadable DICOM: "), "{what}: {msg}");
            assert!(!msg.contains("Kowalczyk"), "{what}: {msg}");
        }
        // Cut in the file meta group.
        let e = attempt("meta cut", &full[..150]).err().expect("rejected");
        assert!(matches!(e, Error::Malformed { .. }), "{e:?}");
    }
}

#[test]
fn truncated_pixel_data_names_the_element_and_truncation() {
    let full = synthetic_file(&Subject::first(), EXPLICIT_VR_LE);
    let e = attempt("cut in pixels", &full[..full.len() - 10])
        .err()
        .expect("rejected");
    let msg = e.to_string();
    assert!(msg.contains("(7FE0,0010)"), "{msg}");
    assert!(msg.contains("truncated"), "{msg}");
    // The same facts as fields: the element and where in the data set its value starts.
    match e {
        Error::Malformed {
            tag: Some(tag),
            offset: Some(offset),
            ..
        } => {
            assert_eq!(tag, dicom_dictionary_std::tags::PIXEL_DATA);
            assert!(offset > 0 && offset < full.len() as u64, "{offset}");
        }
        other => panic!("no tag and offset: {other:?}"),
    }
}

#[test]
fn reader_alone_reports_the_same_errors() {
    assert!(matches!(io::read_object(b""), Err(Error::NotDicom { .. })));
    let full = synthetic_file(&Subject::first(), IMPLICIT_VR_LE);
    assert!(matches!(
        io::read_object(&full[..full.len() - 1]),
        Err(Error::Malformed { .. })
    ));
    assert!(io::read_object(&full).is_ok());
}

/// The streaming path (pixel data located by dicom-parser, copied from the reader) on every
/// prefix of a file and on files with one byte changed: it never panics, a file cut inside
/// its pixel data is never accepted, and whatever it accepts reads back.
#[test]
fn streaming_never_panics_on_cut_or_damaged_files() {
    use dcmask_engine::io::stream::deidentify_stream;
    use std::io::Cursor;
    let plan = Plan::builtin(ProfileId::Basic);
    for ts in [EXPLICIT_VR_LE, IMPLICIT_VR_LE] {
        let full = synthetic_file(&Subject::first(), ts);
        let pixel_start = full
            .windows(4)
            .rposition(|w| w == [0xE0, 0x7F, 0x10, 0x00])
            .expect("pixel data header");
        let run = |what: &str, bytes: &[u8]| {
            let mut out = Vec::new();
            let r = no_panic(what, || {
                deidentify_stream(Cursor::new(bytes), &mut out, &plan, &key())
            })
            .unwrap_or_else(|p| panic!("{p}"));
            if r.is_ok() {
                io::read_object(&out).unwrap_or_else(|e| panic!("{what}: output unreadable: {e}"));
            }
            r.is_ok()
        };
        for cut in (0..full.len()).step_by(3) {
            let accepted = run(&format!("{ts} cut at {cut}"), &full[..cut]);
            assert!(
                !(accepted && cut > pixel_start),
                "{ts}: a file cut at {cut}, inside its pixel data (from {pixel_start}), was accepted"
            );
        }
        for pos in (0..pixel_start).step_by(5) {
            let mut damaged = full.clone();
            damaged[pos] ^= 0xA5;
            run(&format!("{ts} byte {pos} changed"), &damaged);
        }
    }
}
