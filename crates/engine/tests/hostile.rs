//! Hostile and damaged inputs, each a reproducer of a defect once found: the engine
//! refuses them with a typed, clear error, never panics, never overflows its stack, never
//! allocates what a damaged header claims, and never passes a broken file as whole.

mod common;

use common::*;
use dcmask_engine::io::precheck::{MAX_DEPTH, MAX_ELEMENTS, MAX_ITEMS};
use dcmask_engine::io::stream;
use dcmask_engine::pixel::{PixelTools, RegionRules};
use dcmask_engine::Limit;
use dcmask_engine::PixelBox;
use dcmask_engine::{deidentify_with, io, DateShift, Error, Plan, ProfileId};
use dicom_core::value::{PixelFragmentSequence, PrimitiveValue};
use dicom_core::{DataElement, VR};
use dicom_dictionary_std::tags;
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::InMemDicomObject;
use std::io::{Cursor, Write};

const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
const DEFLATED: &str = "1.2.840.10008.1.2.1.99";
const JPEG_BASELINE: &str = "1.2.840.10008.1.2.4.50";
const RLE: &str = "1.2.840.10008.1.2.5";
const SC: &str = "1.2.840.10008.5.1.4.1.1.7";

/// A 4 × 4 8-bit secondary capture without pixel data, as dicom-rs writes it.
fn header() -> InMemDicomObject {
    let mut ds = InMemDicomObject::new_empty();
    ds.put_str(tags::SOP_CLASS_UID, VR::UI, SC);
    ds.put_str(tags::SOP_INSTANCE_UID, VR::UI, "1.2.3.4.5.6");
    ds.put_str(tags::STUDY_INSTANCE_UID, VR::UI, "1.2.3.4.5");
    ds.put_str(tags::SERIES_INSTANCE_UID, VR::UI, "1.2.3.4.5.1");
    ds.put_str(tags::PATIENT_NAME, VR::PN, "Doe^Jane");
    ds.put_str(tags::PATIENT_ID, VR::LO, "PID-1234");
    ds.put_str(tags::STUDY_DATE, VR::DA, "20200102");
    ds.put_str(tags::MODALITY, VR::CS, "OT");
    let us = |t, v: u16| DataElement::new(t, VR::US, PrimitiveValue::from(v));
    ds.put(us(tags::SAMPLES_PER_PIXEL, 1));
    ds.put_str(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2");
    ds.put(us(tags::ROWS, 4));
    ds.put(us(tags::COLUMNS, 4));
    ds.put(us(tags::BITS_ALLOCATED, 8));
    ds.put(us(tags::BITS_STORED, 8));
    ds.put(us(tags::HIGH_BIT, 7));
    ds.put(us(tags::PIXEL_REPRESENTATION, 0));
    ds
}

fn file(ds: InMemDicomObject, ts: &str) -> Vec<u8> {
    let meta = FileMetaTableBuilder::new()
        .transfer_syntax(ts)
        .media_storage_sop_class_uid(SC)
        .media_storage_sop_instance_uid("1.2.3.4.5.6")
        .build()
        .unwrap();
    io::to_bytes(&ds.with_exact_meta(meta)).unwrap()
}

fn native_pixels() -> DataElement<InMemDicomObject> {
    DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        PrimitiveValue::U8(vec![7u8; 16].into()),
    )
}

fn fragments(frags: Vec<Vec<u8>>) -> DataElement<InMemDicomObject> {
    DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        PixelFragmentSequence::new(vec![], frags),
    )
}

/// An Explicit VR Little Endian element, for structures dicom-rs would not write.
fn raw(out: &mut Vec<u8>, group: u16, elem: u16, vr: &[u8; 2], value: &[u8]) {
    out.extend(group.to_le_bytes());
    out.extend(elem.to_le_bytes());
    out.extend(vr);
    if matches!(vr, b"OB" | b"OW" | b"SQ" | b"UN" | b"UT") {
        out.extend([0, 0]);
        out.extend((value.len() as u32).to_le_bytes());
    } else {
        out.extend((value.len() as u16).to_le_bytes());
    }
    out.extend(value);
}

/// The header, then `middle` (raw elements between the header and Pixel Data), then
/// 16 bytes of native pixel data.
fn with_raw(middle: &[u8]) -> Vec<u8> {
    let mut b = file(header(), EXPLICIT_LE);
    b.extend(middle);
    raw(&mut b, 0x7FE0, 0x0010, b"OB", &[7u8; 16]);
    b
}

/// Content Sequences nested `depth` deep, undefined lengths.
fn nested(depth: usize) -> Vec<u8> {
    let mut b = Vec::new();
    for _ in 0..depth {
        b.extend([
            0x40, 0x00, 0x30, 0xA7, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ]);
        b.extend([0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
    }
    b.extend([0x40, 0x00, 0x60, 0xA1, b'C', b'S', 4, 0]);
    b.extend(b"TEXT");
    for _ in 0..depth {
        b.extend([0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
        b.extend([0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
    }
    b
}

fn basic() -> Plan {
    Plan::builtin(ProfileId::Basic)
}

/// The in-memory path (`io::read_object`, then the engine) and the streaming path
/// (`stream::prepare`): both must refuse with the same kind of error.
fn refused(what: &str, bytes: &[u8], plan: &Plan) -> Vec<Error> {
    let whole = no_panic(what, || deid_bytes(bytes, plan, &key()))
        .unwrap_or_else(|p| panic!("{p}"))
        .err()
        .unwrap_or_else(|| panic!("{what}: accepted in memory"));
    let streamed = no_panic(what, || {
        stream::prepare(&mut Cursor::new(bytes), plan, &key())
    })
    .unwrap_or_else(|p| panic!("{p}"))
    .err()
    .unwrap_or_else(|| panic!("{what}: accepted by the streaming path"));
    assert_eq!(
        std::mem::discriminant(&whole),
        std::mem::discriminant(&streamed),
        "{what}: {whole} / {streamed}"
    );
    vec![whole, streamed]
}

fn says(errors: &[Error], words: &str) {
    for e in errors {
        assert!(
            e.to_string().contains(words),
            "`{e}` does not say `{words}`"
        );
        assert!(!e.to_string().contains("Doe"), "{e}");
    }
}

/// Once SIGABRT: dicom-rs and the walk over the data set recurse per level, and 700
/// levels overflowed a worker's stack. The depth is refused before anything recurses.
#[test]
fn deep_nesting_is_refused_before_anything_recurses() {
    for depth in [MAX_DEPTH + 1, 700, 3000] {
        let errors = refused(
            &format!("{depth} deep"),
            &with_raw(&nested(depth)),
            &basic(),
        );
        assert!(matches!(errors[0], Error::Limit { .. }), "{:?}", errors[0]);
        says(
            &errors,
            &format!("sequences nested more than {MAX_DEPTH} deep"),
        );
    }
    // The limit itself is fine, on a thread with the stack of a batch worker (2 MiB).
    let bytes = with_raw(&nested(MAX_DEPTH));
    let run = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let out = deid_bytes(&bytes, &basic(), &key()).map_err(|e| e.to_string())?;
            io::read_object(&out.bytes).map_err(|e| e.to_string())?;
            Ok::<_, String>(())
        })
        .unwrap()
        .join()
        .expect("no overflow");
    run.unwrap();
}

/// Once 4.2 GB for a file of a few hundred bytes: a US value of 3 bytes is read by
/// dicom-rs as one number, the parse falls a byte out of step with the length check, and
/// reads a garbage length of about 4 GB, which it allocated.
#[test]
fn a_binary_value_of_a_length_dicom_rs_misreads_is_refused() {
    let mut middle = Vec::new();
    raw(&mut middle, 0x0029, 0x0010, b"US", &[1, 0, 0xE0]);
    raw(&mut middle, 0x0029, 0x0011, b"LO", b"AB");
    let bytes = with_raw(&middle);
    assert!(bytes.len() < 700);
    let errors = refused("odd US", &bytes, &basic());
    assert!(
        matches!(errors[0], Error::Malformed { .. }),
        "{:?}",
        errors[0]
    );
    says(
        &errors,
        "(0029,0010) with VR US has a length of 3 bytes, not a multiple of 2",
    );
    let mut middle = Vec::new();
    raw(&mut middle, 0x0018, 0x9087, b"FD", &[0; 12]);
    says(
        &refused("FD of 12", &with_raw(&middle), &basic()),
        "VR FD has a length of 12 bytes, not a multiple of 8",
    );
}

/// Once a panic (`--date-shift 99999999999`) and a StudyDate of `10236092` (3,000,000).
#[test]
fn date_shifts_beyond_a_hundred_years_are_refused() {
    let bytes = file(
        {
            let mut h = header();
            h.put(native_pixels());
            h
        },
        EXPLICIT_LE,
    );
    for days in [3_000_000, 99_999_999_999, -36_501] {
        let mut plan = basic();
        plan.date_shift = Some(DateShift::Days(days));
        let e = no_panic("shift", || deid_bytes(&bytes, &plan, &key()))
            .unwrap()
            .err()
            .expect("refused");
        assert!(matches!(e, Error::Plan(_)), "{e:?}");
        assert!(e.to_string().contains("100 years"), "{e}");
    }
    let mut plan = basic();
    plan.date_shift = Some(DateShift::Days(-36_500));
    let out = io::read_object(&deid_bytes(&bytes, &plan, &key()).unwrap().bytes).unwrap();
    let date = out.element(tags::STUDY_DATE).unwrap();
    assert_eq!(date.to_str().unwrap(), "19200127");
}

/// Deflates a data set, as dicom-rs's Deflated Explicit VR Little Endian holds it.
fn deflate(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// The file meta group of `bytes` (preamble included) and the data set after it.
fn split_meta(bytes: &[u8]) -> (&[u8], &[u8]) {
    let group_len = u32::from_le_bytes(bytes[140..144].try_into().unwrap()) as usize;
    bytes.split_at(144 + group_len)
}

/// Once 1.05 GB and accepted: a 1 MB deflated data set holding a gigabyte of zeros.
/// Inflating stops at the limit (64 times the compressed size, at least 16 MiB).
#[test]
fn a_deflate_bomb_is_refused_at_the_limit() {
    let plain = with_raw(&[]);
    let (_, data) = split_meta(&plain);
    let mut big = data[..data.len() - 24].to_vec();
    raw(&mut big, 0x0029, 0x1010, b"OB", &vec![0u8; 64 << 20]);
    raw(&mut big, 0x7FE0, 0x0010, b"OB", &[7u8; 16]);
    let z = deflate(&big);
    assert!(z.len() < 200_000, "{}", z.len());
    assert_eq!(
        io::inflated_limit(z.len() as u64),
        16 << 20,
        "the floor applies"
    );
    let head = file(header(), DEFLATED);
    let (meta, _) = split_meta(&head);
    let bytes = [meta, &z].concat();
    let errors = refused("deflate bomb", &bytes, &basic());
    assert!(matches!(errors[0], Error::Limit { .. }), "{:?}", errors[0]);
    says(&errors, "inflates to more than 16777216 bytes");
}

/// Once accepted: a deflated file cut short (the inflater took the end of input for the
/// end of the data set). Whole, the same file de-identifies and is written deflated.
#[test]
fn a_deflated_data_set_that_ends_early_is_refused() {
    let mut ds = header();
    ds.put(native_pixels());
    ds.put_str(tags::STUDY_DESCRIPTION, VR::LO, "HEAD ".repeat(200));
    let bytes = file(ds, DEFLATED);
    let back = io::read_object(&deid_bytes(&bytes, &basic(), &key()).unwrap().bytes).unwrap();
    assert_eq!(
        back.meta().transfer_syntax().trim_end_matches('\0'),
        DEFLATED
    );
    assert!(back.get(tags::PIXEL_DATA).is_some());
    let (meta, z) = split_meta(&bytes);
    for cut in [1, 3, z.len() / 2] {
        let cut_file = [meta, &z[..z.len() - cut]].concat();
        let errors = refused(&format!("deflated cut {cut}"), &cut_file, &basic());
        assert!(
            matches!(errors[0], Error::Malformed { .. }),
            "{:?}",
            errors[0]
        );
        says(&errors, "ends before its end marker");
    }
}

/// Once written with status ok and no image data: a file cut 1 to 7 bytes into the
/// header of its first JPEG fragment (dicom-rs takes the end of input inside encapsulated
/// pixel data for its end).
#[test]
fn encapsulated_pixel_data_cut_short_is_refused() {
    let mut ds = header();
    ds.put(fragments(vec![vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 4]]));
    let bytes = file(ds, JPEG_BASELINE);
    // Offset table item (8), fragment item (8 + 8), sequence delimiter (8).
    let first = bytes.len() - 8 - 16;
    for cut in (1..8).chain([12, 16, 20]) {
        let errors = refused(&format!("cut {cut}"), &bytes[..first + cut], &basic());
        assert!(
            matches!(errors[0], Error::Malformed { .. }),
            "{:?}",
            errors[0]
        );
        says(&errors, "it is truncated");
    }
    // Without its sequence delimiter.
    says(
        &refused("no delimiter", &bytes[..bytes.len() - 8], &basic()),
        "inside its encapsulated pixel data",
    );
}

/// Once written, unreadable by dcmdump: native pixel data under a transfer syntax that
/// says it is compressed, and compressed fragments under a native one.
#[test]
fn a_transfer_syntax_that_does_not_match_the_pixel_data_is_refused() {
    let mut ds = header();
    ds.put(native_pixels());
    for ts in [JPEG_BASELINE, RLE] {
        let errors = refused(ts, &file(ds.clone(), ts), &basic());
        says(&errors, "says the pixel data is encapsulated");
        says(&errors, "holds 16 bytes of native pixel data");
    }
    let mut ds = header();
    ds.put(fragments(vec![vec![1, 2, 3, 4]]));
    says(
        &refused("fragments as native", &file(ds, EXPLICIT_LE), &basic()),
        "the transfer syntax 1.2.840.10008.1.2.1 is native",
    );
}

/// Once exit 101 (a panic in dicom-rs's RLE decoder, on a segment shorter than the image)
/// and the end of the batch. A decoder's panic is now that file's pixel error.
#[test]
fn a_panicking_pixel_decoder_is_the_files_error() {
    // One segment of one byte for a 4 × 4 image.
    let mut rle = vec![0u8; 64];
    rle[0] = 1;
    rle[4] = 64;
    rle.extend([0, 5, 0, 0]);
    // JPEG bytes under RLE: the RLE header reads nonsense offsets.
    let jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F', 0, 1];
    let boxes = [corner_box()];
    let regions = RegionRules::shipped();
    let mut tools = PixelTools::rules(regions);
    tools.manual_boxes = &boxes;
    for (what, frag) in [("short RLE segment", rle), ("JPEG as RLE", jpeg)] {
        let mut ds = header();
        ds.put(fragments(vec![frag]));
        let obj = io::read_object(&file(ds, RLE)).unwrap();
        let plan = Plan::builtin(ProfileId::Pixel);
        let e = no_panic(what, || deidentify_with(obj, &plan, &key(), &tools))
            .unwrap_or_else(|p| panic!("{p}"))
            .err()
            .unwrap_or_else(|| panic!("{what}: accepted"));
        assert!(matches!(e, Error::Pixel { .. }), "{what}: {e:?}");
    }
}

/// A drawn box over the image's top-left 2 × 2 pixels: the pixels must be decoded.
fn corner_box() -> PixelBox {
    PixelBox {
        x0: 0,
        y0: 0,
        x1: 2,
        y1: 2,
        source: "manual".into(),
    }
}

/// A deflated frame (Deflated Image Frame Compression) inflating far past the frame's
/// size: dicom-rs would inflate all of it. Refused before decoding; a true frame works.
#[test]
fn a_deflated_frame_bomb_is_refused_before_decoding() {
    let boxes = [corner_box()];
    let regions = RegionRules::shipped();
    let mut tools = PixelTools::rules(regions);
    tools.manual_boxes = &boxes;
    let plan = Plan::builtin(ProfileId::Pixel);
    for (frame, ok) in [(vec![9u8; 16], true), (vec![0u8; 64 << 20], false)] {
        let mut ds = header();
        ds.put(fragments(vec![deflate(&frame)]));
        let obj = io::read_object(&file(ds, "1.2.840.10008.1.2.8.1")).unwrap();
        let r = no_panic("deflated frame", || {
            deidentify_with(obj, &plan, &key(), &tools)
        })
        .unwrap();
        match r {
            Ok(out) if ok => assert_eq!(out.record.pixel_boxes.len(), 1),
            Err(Error::Limit {
                limit: Limit::DeflatedFrame,
                detail: m,
            }) if !ok => {
                assert!(
                    m.contains("inflates to more than the 16 bytes of a frame"),
                    "{m}"
                )
            }
            Ok(_) => panic!("the bomb was decoded"),
            Err(e) => panic!("{e}"),
        }
    }
}

/// Once 12.6 GB (+Pixel, one small JPEG): jpeg-decoder allocates the frame its SOF marker
/// declares, 65535 × 65535 after a damaged byte or two, whatever Rows and Columns say.
#[test]
fn a_jpeg_frame_larger_than_the_image_is_refused_before_decoding() {
    let boxes = [corner_box()];
    let regions = RegionRules::shipped();
    let mut tools = PixelTools::rules(regions);
    tools.manual_boxes = &boxes;
    // SOI, SOF0 of 65535 × 65535 × 1 component, SOS, EOI.
    let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xC0, 0, 11, 8, 0xFF, 0xFF, 0xFF, 0xFF, 1];
    jpeg.extend([
        1, 0x11, 0, 0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 0x3F, 0, 0xFF, 0xD9,
    ]);
    let mut ds = header();
    ds.put(fragments(vec![jpeg]));
    let obj = io::read_object(&file(ds, JPEG_BASELINE)).unwrap();
    let plan = Plan::builtin(ProfileId::Pixel);
    let e = no_panic("SOF", || deidentify_with(obj, &plan, &key(), &tools))
        .unwrap()
        .err()
        .expect("refused");
    assert!(matches!(e, Error::Pixel { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("a JPEG frame of 65535 × 65535 in an image of 4 × 4"),
        "{e}"
    );
}

/// More elements or items than the limits: refused by the walk, before the parse.
#[test]
fn element_and_item_counts_are_bounded() {
    let mut middle = Vec::with_capacity(11 * MAX_ELEMENTS as usize);
    let mut n = 0;
    'groups: for group in (0x0009u16..).step_by(2) {
        for elem in 0x1000u16..=0xFFFF {
            raw(&mut middle, group, elem, b"SH", b"AB");
            n += 1;
            if n > MAX_ELEMENTS {
                break 'groups;
            }
        }
    }
    let errors = refused("elements", &with_raw(&middle), &basic());
    assert!(matches!(errors[0], Error::Limit { .. }), "{:?}", errors[0]);
    says(&errors, &format!("more than {MAX_ELEMENTS} data elements"));

    let mut items = Vec::new();
    for _ in 0..=MAX_ITEMS {
        items.extend([0xFE, 0xFF, 0x00, 0xE0, 0, 0, 0, 0]);
    }
    let mut middle = Vec::new();
    raw(&mut middle, 0x0008, 0x1115, b"SQ", &items);
    let errors = refused("items", &with_raw(&middle), &basic());
    assert!(matches!(errors[0], Error::Limit { .. }), "{:?}", errors[0]);
    says(&errors, &format!("more than {MAX_ITEMS} sequence items"));
}

/// What follows the pixel data of a streamed file is checked like the header: a damaged
/// length there is refused, not allocated.
#[test]
fn data_after_the_pixel_data_is_checked_before_it_is_parsed() {
    let mut bytes = with_raw(&[]);
    bytes.extend([0xFC, 0xFF, 0xFC, 0xFF, b'O', b'B', 0, 0]);
    bytes.extend(0xF000_0000u32.to_le_bytes());
    bytes.extend([0u8; 32]);
    says(
        &refused("trailer", &bytes, &basic()),
        "Could not read 4026531840 value bytes for element tagged (FFFC,FFFC)",
    );
}
