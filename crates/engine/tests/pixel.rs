//! Clean Pixel Data: region rules blank burned-in text in every frame, losslessly.
//!
//! Images are generated here with bright "glyph" marks at known places; the corpus
//! (`DCMASK_CORPUS` or `/work/shared/corpus`) adds real encapsulated files (RLE, JPEG
//! Lossless, JPEG 2000, JPEG baseline), skipped loudly when absent.

use dcmask_engine::pixel::{blank_boxes, RegionRules, EXPLICIT_VR_LE};
use dcmask_engine::PixelBox;
use dcmask_engine::{deidentify, deidentify_with_regions, io, Error, Key, Outcome};
use dcmask_engine::{Plan, ProfileId};
use dicom_core::value::Value;
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::{DefaultDicomObject, InMemDicomObject};
use dicom_pixeldata::{PixelDecoder, PlanarConfiguration};
use std::path::PathBuf;

const IMPLICIT_VR_LE: &str = "1.2.840.10008.1.2";
const SC_CLASS: &str = "1.2.840.10008.5.1.4.1.1.7";

fn key() -> Key {
    Key::from_file_contents(b"000102030405060708090a0b0c0d0e0f").unwrap()
}

fn pixel_plan() -> Plan {
    Plan::builtin(ProfileId::Pixel)
}

/// A generated image and where its glyphs are.
/// CT Image Storage.
const CT_CLASS: &str = "1.2.840.10008.5.1.4.1.1.2";

struct Spec {
    modality: &'static str,
    manufacturer: &'static str,
    model: &'static str,
    rows: u16,
    cols: u16,
    frames: u32,
    spp: u16,
    bits_allocated: u16,
    bits_stored: u16,
    signed: bool,
    pi: &'static str,
    planar: bool,
    ts: &'static str,
}

impl Spec {
    fn mono(bits_allocated: u16, bits_stored: u16, pi: &'static str) -> Spec {
        Spec {
            modality: "OT",
            manufacturer: "dcmask",
            model: "synthetic",
            rows: 64,
            cols: 80,
            frames: 1,
            spp: 1,
            bits_allocated,
            bits_stored,
            signed: false,
            pi,
            planar: false,
            ts: EXPLICIT_VR_LE,
        }
    }

    fn rgb(planar: bool) -> Spec {
        Spec {
            spp: 3,
            pi: "RGB",
            planar,
            ..Spec::mono(8, 8, "RGB")
        }
    }

    /// Rule 29 of the shipped rules: GE LOGIQE ultrasound, 614 rows.
    fn logiqe(self) -> Spec {
        Spec {
            modality: "US",
            manufacturer: "GE",
            model: "LOGIQE",
            rows: 614,
            cols: 120,
            ..self
        }
    }

    fn frames(self, frames: u32) -> Spec {
        Spec { frames, ..self }
    }

    /// Background sample value: a gradient that differs per frame and sample.
    fn background(&self, f: u32, y: u32, x: u32, s: u32) -> i64 {
        let range = if self.signed {
            1i64 << (self.bits_stored - 1)
        } else {
            1i64 << self.bits_stored
        };
        let v = (x as i64 * 7 + y as i64 * 13 + f as i64 * 31 + s as i64 * 5 + 1) % (range - 2) + 1;
        if self.signed {
            v - range / 2
        } else {
            v
        }
    }

    /// Glyph marks: short bright bars like letters, inside the text band and elsewhere.
    fn glyph(&self, y: u32, x: u32) -> bool {
        let bars = [
            (8, 6, 10, 16),
            (14, 6, 16, 16),
            (30, 8, 44, 10),
            (50, 40, 58, 48),
        ];
        bars.iter()
            .any(|&(x0, y0, x1, y1)| x >= x0 && x < x1 && y >= y0 && y < y1)
    }

    fn value(&self, f: u32, y: u32, x: u32, s: u32) -> i64 {
        if self.glyph(y, x) {
            if self.signed {
                (1i64 << (self.bits_stored - 1)) - 1
            } else {
                (1i64 << self.bits_stored) - 1
            }
        } else {
            self.background(f, y, x, s)
        }
    }

    fn build(&self) -> DefaultDicomObject {
        let (rows, cols, spp) = (self.rows as u32, self.cols as u32, self.spp as u32);
        let bpp = self.bits_allocated as usize / 8;
        let mut bytes = Vec::new();
        for f in 0..self.frames {
            let mut put = |y, x, s| {
                let v = self.value(f, y, x, s) as u64;
                bytes.extend_from_slice(&v.to_le_bytes()[..bpp]);
            };
            if self.planar {
                for s in 0..spp {
                    for y in 0..rows {
                        for x in 0..cols {
                            put(y, x, s);
                        }
                    }
                }
            } else {
                for y in 0..rows {
                    for x in 0..cols {
                        for s in 0..spp {
                            put(y, x, s);
                        }
                    }
                }
            }
        }
        if bytes.len() % 2 == 1 {
            bytes.push(0);
        }
        let us = |t, v: u16| DataElement::new(t, VR::US, PrimitiveValue::from(v));
        // A CT is stored as a CT image; the rest as secondary captures (text-prone).
        let class = if self.modality == "CT" {
            CT_CLASS
        } else {
            SC_CLASS
        };
        let mut ds = InMemDicomObject::from_element_iter([
            DataElement::new(tags::SOP_CLASS_UID, VR::UI, class),
            DataElement::new(tags::SOP_INSTANCE_UID, VR::UI, "2.25.1234567"),
            DataElement::new(tags::STUDY_INSTANCE_UID, VR::UI, "2.25.1234568"),
            DataElement::new(tags::SERIES_INSTANCE_UID, VR::UI, "2.25.1234569"),
            DataElement::new(tags::MODALITY, VR::CS, self.modality),
            DataElement::new(tags::MANUFACTURER, VR::LO, self.manufacturer),
            DataElement::new(tags::MANUFACTURER_MODEL_NAME, VR::LO, self.model),
            DataElement::new(tags::PATIENT_NAME, VR::PN, "Doe^Jane"),
            DataElement::new(tags::PATIENT_ID, VR::LO, "P123"),
            us(tags::SAMPLES_PER_PIXEL, self.spp),
            DataElement::new(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, self.pi),
            us(tags::ROWS, self.rows),
            us(tags::COLUMNS, self.cols),
            us(tags::BITS_ALLOCATED, self.bits_allocated),
            us(tags::BITS_STORED, self.bits_stored),
            us(tags::HIGH_BIT, self.bits_stored - 1),
            us(tags::PIXEL_REPRESENTATION, self.signed as u16),
        ]);
        if self.spp > 1 {
            ds.put(us(tags::PLANAR_CONFIGURATION, self.planar as u16));
        }
        if self.frames > 1 {
            ds.put(DataElement::new(
                tags::NUMBER_OF_FRAMES,
                VR::IS,
                self.frames.to_string(),
            ));
        }
        let pixel = if self.bits_allocated == 8 {
            DataElement::new(tags::PIXEL_DATA, VR::OB, PrimitiveValue::U8(bytes.into()))
        } else {
            let words: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|w| u16::from_le_bytes([w[0], w[1]]))
                .collect();
            DataElement::new(tags::PIXEL_DATA, VR::OW, PrimitiveValue::U16(words.into()))
        };
        ds.put(pixel);
        let meta = FileMetaTableBuilder::new()
            .transfer_syntax(self.ts)
            .media_storage_sop_class_uid(SC_CLASS)
            .media_storage_sop_instance_uid("2.25.1234567")
            .implementation_class_uid("2.25.1")
            .build()
            .unwrap();
        ds.with_exact_meta(meta)
    }
}

/// Decoded samples with their layout, for comparing images sample by sample.
struct Samples {
    rows: usize,
    cols: usize,
    spp: usize,
    frames: usize,
    bpp: usize,
    planar: bool,
    data: Vec<u8>,
}

impl Samples {
    fn of(obj: &DefaultDicomObject) -> Samples {
        let d = obj.decode_pixel_data().expect("decodes");
        Samples {
            rows: d.rows() as usize,
            cols: d.columns() as usize,
            spp: d.samples_per_pixel() as usize,
            frames: d.number_of_frames() as usize,
            bpp: d.bits_allocated() as usize / 8,
            planar: d.planar_configuration() == PlanarConfiguration::PixelFirst,
            data: d.data().to_vec(),
        }
    }

    /// The raw stored sample, bits as stored (little endian).
    fn get(&self, f: usize, y: usize, x: usize, s: usize) -> u64 {
        let frame = self.rows * self.cols * self.spp;
        let i = if self.planar {
            f * frame + (s * self.rows + y) * self.cols + x
        } else {
            f * frame + (y * self.cols + x) * self.spp + s
        };
        let mut b = [0u8; 8];
        b[..self.bpp].copy_from_slice(&self.data[i * self.bpp..(i + 1) * self.bpp]);
        u64::from_le_bytes(b)
    }
}

fn inside(boxes: &[(u32, u32, u32, u32)], y: usize, x: usize) -> bool {
    boxes.iter().any(|&(x0, y0, x1, y1)| {
        (x0 as usize..x1 as usize).contains(&x) && (y0 as usize..y1 as usize).contains(&y)
    })
}

/// Every sample inside the boxes is `black[s]`, every sample outside is unchanged.
fn check_blanked(before: &Samples, after: &Samples, boxes: &[(u32, u32, u32, u32)], black: &[u64]) {
    assert_eq!(
        (before.rows, before.cols, before.spp, before.frames),
        (after.rows, after.cols, after.spp, after.frames)
    );
    let mask = if after.bpp == 8 {
        u64::MAX
    } else {
        (1u64 << (after.bpp * 8)) - 1
    };
    let mut blanked = 0usize;
    // Long cine loops: the first, middle and last frames.
    let frames: Vec<usize> = if after.frames > 10 {
        vec![0, after.frames / 2, after.frames - 1]
    } else {
        (0..after.frames).collect()
    };
    for f in frames {
        for y in 0..after.rows {
            for x in 0..after.cols {
                assert_eq!(black.len(), after.spp);
                for (s, &b) in black.iter().enumerate() {
                    let v = after.get(f, y, x, s);
                    if inside(boxes, y, x) {
                        assert_eq!(v, b & mask, "frame {f} ({x},{y}) sample {s} not black");
                        blanked += 1;
                    } else {
                        assert_eq!(
                            v,
                            before.get(f, y, x, s),
                            "frame {f} ({x},{y}) sample {s} changed outside the boxes"
                        );
                    }
                }
            }
        }
    }
    assert!(blanked > 0, "no sample was inside a box");
}

/// Writes and reads the object back, checks the transfer syntax is native lossless.
fn round_trip(obj: &DefaultDicomObject) -> DefaultDicomObject {
    let bytes = io::to_bytes(obj).expect("writes");
    let back = io::read_object(&bytes).expect("reads back");
    assert_eq!(
        back.meta().transfer_syntax().trim_end_matches('\0'),
        EXPLICIT_VR_LE,
        "cleaned pixels are stored as Explicit VR Little Endian"
    );
    back
}

fn text(obj: &InMemDicomObject, tag: dicom_core::Tag) -> Option<String> {
    obj.get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_matches(['\0', ' ']).to_string())
}

fn method_codes(obj: &InMemDicomObject) -> Vec<String> {
    obj.get(tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE)
        .and_then(|e| e.items())
        .map(|items| {
            items
                .iter()
                .filter_map(|i| text(i, tags::CODE_VALUE))
                .collect()
        })
        .unwrap_or_default()
}

fn assert_cleaned_markers(obj: &InMemDicomObject) {
    assert_eq!(text(obj, tags::BURNED_IN_ANNOTATION).as_deref(), Some("NO"));
    assert!(method_codes(obj).contains(&"113101".to_string()));
}

fn assert_not_cleaned_markers(obj: &InMemDicomObject) {
    assert_ne!(text(obj, tags::BURNED_IN_ANNOTATION).as_deref(), Some("NO"));
    let codes = method_codes(obj);
    assert!(codes.contains(&"113100".to_string()), "{codes:?}");
    assert!(!codes.contains(&"113101".to_string()), "{codes:?}");
}

fn user_rules(csv: &str) -> RegionRules {
    RegionRules::shipped_with(&RegionRules::from_csv(csv).unwrap())
}

const OT_RULE: &str = "rule,label,condition,x0,y0,x1,y1\n\
    7,Synthetic OT,\"equals(Modality,\"\"OT\"\") && contains(ManufacturerModelName,\"\"synth\"\")\",5,4,40,20\n\
    8,Corner,\"equals(Modality,\"\"OT\"\")\",70,56,200,200\n";
const OT_BOXES: [(u32, u32, u32, u32); 2] = [(5, 4, 40, 20), (70, 56, 80, 64)];

/// Runs +Pixel on a generated image and checks everything; returns the outcome.
fn run(spec: &Spec, rules: &RegionRules, boxes: &[(u32, u32, u32, u32)], black: &[u64]) -> Outcome {
    let original = spec.build();
    let before = Samples::of(&original);
    let out = deidentify_with_regions(original, &pixel_plan(), &key(), rules).expect("cleans");
    let got: Vec<_> = out
        .record
        .pixel_boxes
        .iter()
        .map(|b| (b.x0, b.y0, b.x1, b.y1))
        .collect();
    assert_eq!(got, boxes, "recorded boxes");
    // Text-prone modalities without a detector say that text may remain elsewhere.
    assert!(
        out.record
            .pixel_warnings
            .iter()
            .all(|w| w.contains("no text detector was available")),
        "{:?}",
        out.record.pixel_warnings
    );
    let back = round_trip(&out.object);
    let after = Samples::of(&back);
    check_blanked(&before, &after, boxes, black);
    assert_cleaned_markers(&back);
    assert_eq!(text(&back, tags::PATIENT_NAME).as_deref().unwrap_or(""), "");
    if spec.frames > 1 {
        assert_eq!(
            text(&back, tags::NUMBER_OF_FRAMES),
            Some(spec.frames.to_string())
        );
    }
    out
}

#[test]
fn monochrome2_8bit_shipped_rule_29() {
    let spec = Spec::mono(8, 8, "MONOCHROME2").logiqe();
    let out = run(&spec, RegionRules::shipped(), &[(0, 0, 120, 75)], &[0]);
    assert_eq!(out.record.pixel_boxes[0].source, "rule 29: Logiq US LOGIQE");
}

#[test]
fn monochrome2_16bit_three_frames_user_rule_from_implicit_vr() {
    let spec = Spec {
        ts: IMPLICIT_VR_LE,
        ..Spec::mono(16, 12, "MONOCHROME2").frames(3)
    };
    let out = run(&spec, &user_rules(OT_RULE), &OT_BOXES, &[0]);
    assert_eq!(
        out.record.pixel_boxes[0].source,
        "user rule 7: Synthetic OT"
    );
    let back = round_trip(&out.object);
    assert_eq!(
        back.get(tags::BITS_ALLOCATED)
            .unwrap()
            .to_int::<u16>()
            .unwrap(),
        16
    );
    assert_eq!(
        back.get(tags::BITS_STORED)
            .unwrap()
            .to_int::<u16>()
            .unwrap(),
        12
    );
}

#[test]
fn monochrome2_signed_blanks_to_the_minimum() {
    let spec = Spec {
        signed: true,
        ..Spec::mono(16, 12, "MONOCHROME2")
    };
    // -2048 in 16-bit two's complement.
    run(&spec, &user_rules(OT_RULE), &OT_BOXES, &[0xF800]);
}

#[test]
fn monochrome1_blanks_to_the_maximum() {
    let spec = Spec::mono(16, 12, "MONOCHROME1").frames(3);
    run(&spec, &user_rules(OT_RULE), &OT_BOXES, &[4095]);
}

#[test]
fn rgb_interleaved_three_frames_shipped_rule() {
    let spec = Spec::rgb(false).logiqe().frames(3);
    let out = run(
        &spec,
        RegionRules::shipped(),
        &[(0, 0, 120, 75)],
        &[0, 0, 0],
    );
    let back = round_trip(&out.object);
    assert_eq!(
        text(&back, tags::PHOTOMETRIC_INTERPRETATION).as_deref(),
        Some("RGB")
    );
}

#[test]
fn rgb_planar_keeps_its_layout() {
    let spec = Spec::rgb(true).frames(3);
    let out = run(&spec, &user_rules(OT_RULE), &OT_BOXES, &[0, 0, 0]);
    let back = round_trip(&out.object);
    assert_eq!(
        back.get(tags::PLANAR_CONFIGURATION)
            .unwrap()
            .to_int::<u16>()
            .unwrap(),
        1
    );
}

#[test]
fn non_matching_image_keeps_pixel_data_byte_for_byte() {
    let spec = Spec {
        modality: "CT",
        ..Spec::mono(16, 12, "MONOCHROME2")
    };
    let original = spec.build();
    let before = original
        .get(tags::PIXEL_DATA)
        .unwrap()
        .to_bytes()
        .unwrap()
        .to_vec();
    let out = deidentify(original, &pixel_plan(), &key()).unwrap();
    assert!(out.record.pixel_boxes.is_empty());
    assert!(out.record.pixel_warnings.is_empty());
    let back = io::read_object(&io::to_bytes(&out.object).unwrap()).unwrap();
    let after = back
        .get(tags::PIXEL_DATA)
        .unwrap()
        .to_bytes()
        .unwrap()
        .to_vec();
    assert_eq!(before, after);
    assert_not_cleaned_markers(&back);
}

#[test]
fn text_prone_images_without_a_rule_are_flagged_not_faked() {
    // An ultrasound of an unknown model, and an image that says it has burned-in text.
    let us = Spec {
        modality: "US",
        ..Spec::mono(8, 8, "MONOCHROME2")
    };
    let out = deidentify(us.build(), &pixel_plan(), &key()).unwrap();
    assert!(out.record.pixel_boxes.is_empty());
    assert_eq!(out.record.pixel_warnings.len(), 1);
    assert!(out.record.pixel_warnings[0].contains("burned-in text possible, not cleaned"));
    assert_not_cleaned_markers(&out.object);

    let mut mr = Spec {
        modality: "MR",
        ..Spec::mono(8, 8, "MONOCHROME2")
    }
    .build();
    mr.put(DataElement::new(tags::BURNED_IN_ANNOTATION, VR::CS, "YES"));
    let out = deidentify(mr, &pixel_plan(), &key()).unwrap();
    assert_eq!(out.record.pixel_warnings.len(), 1);
    assert!(out.record.pixel_warnings[0].contains("Burned In Annotation"));
    assert_not_cleaned_markers(&out.object);

    // Without Clean Pixel Data nothing is said about pixels.
    let out = deidentify(us.build(), &Plan::builtin(ProfileId::Basic), &key()).unwrap();
    assert!(out.record.pixel_warnings.is_empty() && out.record.pixel_boxes.is_empty());
}

#[test]
fn basic_profile_does_not_touch_pixels_of_a_matching_image() {
    let spec = Spec::mono(8, 8, "MONOCHROME2").logiqe();
    let original = spec.build();
    let before = original
        .get(tags::PIXEL_DATA)
        .unwrap()
        .to_bytes()
        .unwrap()
        .to_vec();
    let out = deidentify(original, &Plan::builtin(ProfileId::Basic), &key()).unwrap();
    assert!(out.record.pixel_boxes.is_empty());
    let after = out
        .object
        .get(tags::PIXEL_DATA)
        .unwrap()
        .to_bytes()
        .unwrap()
        .to_vec();
    assert_eq!(before, after);
    assert_not_cleaned_markers(&out.object);
}

#[test]
fn manual_boxes_are_clipped_and_applied() {
    let spec = Spec::mono(8, 8, "MONOCHROME2").frames(3);
    let mut obj = spec.build();
    let before = Samples::of(&obj);
    let boxes = [
        PixelBox {
            x0: 60,
            y0: 50,
            x1: 500,
            y1: 500,
            source: "manual".into(),
        },
        PixelBox {
            x0: 100,
            y0: 0,
            x1: 120,
            y1: 10,
            source: "outside".into(),
        },
    ];
    let applied = blank_boxes(&mut obj, &boxes).unwrap();
    assert_eq!(applied.len(), 1);
    assert_eq!((applied[0].x1, applied[0].y1), (80, 64));
    let back = round_trip(&obj);
    check_blanked(&before, &Samples::of(&back), &[(60, 50, 80, 64)], &[0]);
    // Nothing to do: untouched, not even decoded.
    let mut obj = spec.build();
    let pd = obj
        .get(tags::PIXEL_DATA)
        .unwrap()
        .to_bytes()
        .unwrap()
        .to_vec();
    assert!(blank_boxes(&mut obj, &boxes[1..]).unwrap().is_empty());
    assert_eq!(
        obj.get(tags::PIXEL_DATA)
            .unwrap()
            .to_bytes()
            .unwrap()
            .to_vec(),
        pd
    );
}

#[test]
fn undecodable_pixels_are_a_typed_error() {
    let spec = Spec::mono(8, 8, "MONOCHROME2").logiqe();
    let mut obj = spec.build();
    // Claim JPEG baseline but hold garbage.
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        Value::PixelSequence(dicom_core::value::PixelFragmentSequence::new(
            Vec::<u32>::new(),
            vec![vec![1u8, 2, 3, 4]],
        )),
    ));
    obj.update_meta(|m| m.transfer_syntax = "1.2.840.10008.1.2.4.50".into());
    match deidentify(obj, &pixel_plan(), &key()) {
        Err(Error::Pixel { detail: msg, .. }) => {
            assert!(msg.contains("cannot decode"), "{msg}");
            assert!(!msg.contains("Doe") && !msg.contains("P123"));
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("undecodable pixels passed as cleaned"),
    }
}

// ---- real encapsulated files from the corpus ----

fn corpus_file(name: &str) -> Option<DefaultDicomObject> {
    let dir = std::env::var_os("DCMASK_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/corpus"));
    // The corpus keeps pydicom's test files in two folders.
    let path = ["pydicom-data", "pydicom/test_files"]
        .iter()
        .map(|sub| dir.join(sub).join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| dir.join("pydicom-data").join(name));
    match std::fs::read(&path) {
        Ok(bytes) => Some(io::read_object(&bytes).expect("corpus file reads")),
        Err(_) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set and {} is missing",
                path.display()
            );
            eprintln!("!!! SKIPPED: corpus file {} not found", path.display());
            None
        }
    }
}

/// Cleans a corpus file with a user rule on its modality; checks pixels and metadata.
fn corpus_case(
    name: &str,
    modality: &str,
    rect: (u32, u32, u32, u32),
    black: &[u64],
) -> Option<DefaultDicomObject> {
    let obj = corpus_file(name)?;
    let before = Samples::of(&obj);
    let csv = format!(
        "label,condition,x0,y0,x1,y1\ncorpus,\"equals(Modality,\"\"{modality}\"\")\",{},{},{},{}\n",
        rect.0, rect.1, rect.2, rect.3
    );
    let out = deidentify_with_regions(obj, &pixel_plan(), &key(), &user_rules(&csv))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(out.record.pixel_boxes.len(), 1, "{name}");
    let back = round_trip(&out.object);
    let after = Samples::of(&back);
    check_blanked(&before, &after, &[rect], black);
    assert_cleaned_markers(&back);
    Some(back)
}

#[test]
fn corpus_rle_monochrome_ten_frames() {
    corpus_case("emri_small_RLE.dcm", "MR", (5, 3, 30, 12), &[0]);
}

#[test]
fn corpus_jpeg_lossless_signed() {
    corpus_case("JPEG-LL.dcm", "NM", (0, 0, 100, 40), &[0x8000]);
}

#[test]
fn corpus_jpeg2000_lossless_colour_becomes_rgb() {
    if let Some(back) = corpus_case("US1_J2KR.dcm", "US", (0, 0, 640, 60), &[0, 0, 0]) {
        assert_eq!(
            text(&back, tags::PHOTOMETRIC_INTERPRETATION).as_deref(),
            Some("RGB")
        );
        assert_eq!(
            text(&back, tags::LOSSY_IMAGE_COMPRESSION)
                .as_deref()
                .unwrap_or("00"),
            "00"
        );
    }
}

#[test]
fn corpus_rle_palette_two_frames() {
    corpus_case("OBXXXX1A_rle_2frame.dcm", "US", (100, 20, 300, 80), &[0]);
}

#[test]
fn corpus_jpeg_baseline_is_decoded_once_and_marked_lossy() {
    if let Some(back) = corpus_case(
        "color3d_jpeg_baseline.dcm",
        "US",
        (0, 0, 640, 50),
        &[0, 0, 0],
    ) {
        assert_eq!(
            text(&back, tags::PHOTOMETRIC_INTERPRETATION).as_deref(),
            Some("RGB")
        );
        assert_eq!(
            text(&back, tags::LOSSY_IMAGE_COMPRESSION).as_deref(),
            Some("01")
        );
        assert_eq!(text(&back, tags::NUMBER_OF_FRAMES).as_deref(), Some("120"));
    }
}

#[test]
fn corpus_jpeg_ls_lossless_ten_frames() {
    corpus_case(
        "emri_small_jpeg_ls_lossless.dcm",
        "MR",
        (0, 0, 40, 10),
        &[0],
    );
}

#[test]
fn corpus_jpeg_ls_lossless_signed() {
    corpus_case(
        "MR_small_jpeg_ls_lossless.dcm",
        "MR",
        (8, 8, 56, 20),
        &[0x8000],
    );
}
