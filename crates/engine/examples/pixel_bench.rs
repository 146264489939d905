//! Per-image time of Clean Pixel Data: region rule matching, and matching + blanking.
//!
//! `cargo run --release -p dcmask-engine --example pixel_bench [iterations]`

use dcmask_engine::pixel::{blank_boxes, RegionRules, EXPLICIT_VR_LE};
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::{DefaultDicomObject, InMemDicomObject};
use std::time::Instant;

fn image(rows: u16, cols: u16, spp: u16, bits: u16, model: &str) -> DefaultDicomObject {
    let n = rows as usize * cols as usize * spp as usize;
    let pixel = if bits == 8 {
        let v: Vec<u8> = (0..n).map(|i| (i * 31 % 251) as u8).collect();
        DataElement::new(tags::PIXEL_DATA, VR::OB, PrimitiveValue::U8(v.into()))
    } else {
        let v: Vec<u16> = (0..n).map(|i| (i * 31 % 4093) as u16).collect();
        DataElement::new(tags::PIXEL_DATA, VR::OW, PrimitiveValue::U16(v.into()))
    };
    let us = |t, v: u16| DataElement::new(t, VR::US, PrimitiveValue::from(v));
    let mut ds = InMemDicomObject::from_element_iter([
        DataElement::new(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.7"),
        DataElement::new(tags::SOP_INSTANCE_UID, VR::UI, "2.25.1"),
        DataElement::new(tags::MODALITY, VR::CS, "US"),
        DataElement::new(tags::MANUFACTURER, VR::LO, "GE Healthcare"),
        DataElement::new(tags::MANUFACTURER_MODEL_NAME, VR::LO, model),
        us(tags::SAMPLES_PER_PIXEL, spp),
        DataElement::new(
            tags::PHOTOMETRIC_INTERPRETATION,
            VR::CS,
            if spp == 3 { "RGB" } else { "MONOCHROME2" },
        ),
        us(tags::ROWS, rows),
        us(tags::COLUMNS, cols),
        us(tags::BITS_ALLOCATED, bits),
        us(tags::BITS_STORED, if bits == 8 { 8 } else { 12 }),
        us(tags::HIGH_BIT, if bits == 8 { 7 } else { 11 }),
        us(tags::PIXEL_REPRESENTATION, 0),
        pixel,
    ]);
    if spp == 3 {
        ds.put(us(tags::PLANAR_CONFIGURATION, 0));
    }
    let meta = FileMetaTableBuilder::new()
        .transfer_syntax(EXPLICIT_VR_LE)
        .media_storage_sop_class_uid("1.2.840.10008.5.1.4.1.1.7")
        .media_storage_sop_instance_uid("2.25.1")
        .implementation_class_uid("2.25.1")
        .build()
        .expect("meta");
    ds.with_exact_meta(meta)
}

fn main() {
    let iterations: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50);
    let rules = RegionRules::shipped();
    println!(
        "{} shipped region rules; {iterations} iterations each",
        rules.len()
    );
    // The RGB image matches rule 88 (GE LOGIQ S6, 768 rows: 0,0,800,80). No shipped rule
    // has 512 rows, so the 512×512 image measures matching over all rules (none fires)
    // plus blanking a 512×60 band given directly, as a user or manual box would be.
    let cases = [
        (
            "512x512 MONOCHROME2 16-bit",
            image(512, 512, 1, 16, "LOGIQ S6"),
            false,
        ),
        (
            "1024x768 RGB 8-bit (rule 88)",
            image(768, 1024, 3, 8, "LOGIQ S6"),
            true,
        ),
    ];
    for (name, obj, matches) in cases {
        // Rule matching alone.
        let t = Instant::now();
        let mut boxes = Vec::new();
        for _ in 0..iterations {
            boxes = rules.boxes(&obj);
        }
        let matching = t.elapsed() / iterations;
        assert_eq!(!boxes.is_empty(), matches, "{name}");
        if boxes.is_empty() {
            boxes = vec![dcmask_engine::PixelBox {
                x0: 0,
                y0: 0,
                x1: 512,
                y1: 60,
                source: "bench".into(),
            }];
        }
        // Matching + decode + blank + write back (clone excluded).
        let mut total = std::time::Duration::ZERO;
        for _ in 0..iterations {
            let mut o = obj.clone();
            let t = Instant::now();
            let b = rules.boxes(&o);
            let b = if b.is_empty() { boxes.clone() } else { b };
            blank_boxes(&mut o, &b).expect("blanks");
            total += t.elapsed();
        }
        let all = total / iterations;
        println!(
            "{name}: rule matching {:.1} µs, matching + blanking {:.2} ms per image",
            matching.as_secs_f64() * 1e6,
            all.as_secs_f64() * 1e3
        );
    }
}
