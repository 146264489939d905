//! +Pixel with the embedded OCR models on generated images: identifying text drawn at
//! known places (DejaVu Sans, Debian `fonts-dejavu-core`) at the stored extremes, in
//! several photometric interpretations, bit depths and transfer syntaxes (native and
//! JPEG-LS), single and multi-frame. Every text box must be blanked in every frame, the
//! pixels away from the text unchanged, and the output must decode.

use crate::ocr::Ocr;
use ab_glyph::{Font, FontVec, PxScale, ScaleFont};
use dcmask_engine::pixel::{PixelTools, RegionRules};
use dcmask_engine::{deidentify_with, Key, Plan, ProfileId};
use dicom_core::value::{PixelFragmentSequence, Value};
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::{DefaultDicomObject, InMemDicomObject};
use dicom_pixeldata::PixelDecoder;
use std::sync::OnceLock;

fn ocr() -> &'static Ocr {
    static OCR: OnceLock<Ocr> = OnceLock::new();
    OCR.get_or_init(|| Ocr::embedded().expect("embedded models load"))
}

fn font() -> &'static FontVec {
    static FONT: OnceLock<FontVec> = OnceLock::new();
    FONT.get_or_init(|| {
        let p = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
        let bytes = std::fs::read(p).unwrap_or_else(|e| panic!("{p}: {e} (fonts-dejavu-core)"));
        FontVec::try_from_vec(bytes).unwrap()
    })
}

/// How a test image is stored.
#[derive(Clone, Copy)]
struct Spec {
    pi: &'static str,
    bits: u16,
    signed: bool,
    spp: usize,
    frames: usize,
    jpeg_ls: bool,
    /// Window centre and width in stored values.
    window: Option<(i32, i32)>,
}

const W: usize = 320;
const H: usize = 256;

/// Samples of one frame: an "anatomy" ellipse (mid value, brighter "bone" ring) on the
/// stored minimum, as `i32` per sample, interleaved.
fn background(s: &Spec) -> Vec<i32> {
    let (lo, hi) = range(s);
    let mut v = vec![lo; W * H * s.spp];
    for y in 0..H {
        for x in 0..W {
            let dx = (x as f64 - 160.0) / 130.0;
            let dy = (y as f64 - 140.0) / 100.0;
            let r = (dx * dx + dy * dy).sqrt();
            let val = if r < 0.8 {
                lo + ((hi - lo) as f64 * (0.35 + 0.1 * dx)) as i32
            } else if r < 1.0 {
                lo + ((hi - lo) as f64 * 0.85) as i32
            } else {
                lo
            };
            for k in 0..s.spp {
                v[(y * W + x) * s.spp + k] = val;
            }
        }
    }
    v
}

fn range(s: &Spec) -> (i32, i32) {
    if s.signed {
        (-(1 << (s.bits - 1)), (1 << (s.bits - 1)) - 1)
    } else {
        (0, (1 << s.bits) - 1)
    }
}

/// Draws `text` with its top left at (x, y), `size` px, in `ink`; returns the tight box
/// of the ink.
fn draw(
    v: &mut [i32],
    spp: usize,
    text: &str,
    x: usize,
    y: usize,
    size: f32,
    ink: i32,
) -> [usize; 4] {
    let f = font();
    let scale = PxScale::from(size);
    let sf = f.as_scaled(scale);
    let mut pen = x as f32;
    let mut b = [usize::MAX, usize::MAX, 0, 0];
    for ch in text.chars() {
        let g = f
            .glyph_id(ch)
            .with_scale_and_position(scale, ab_glyph::point(pen, y as f32 + sf.ascent()));
        pen += sf.h_advance(f.glyph_id(ch));
        let Some(o) = f.outline_glyph(g) else {
            continue;
        };
        let bounds = o.px_bounds();
        o.draw(|gx, gy, c| {
            let px = bounds.min.x as usize + gx as usize;
            let py = bounds.min.y as usize + gy as usize;
            if c > 0.5 && px < W && py < H {
                for k in 0..spp {
                    v[(py * W + px) * spp + k] = ink;
                }
                b = [
                    b[0].min(px),
                    b[1].min(py),
                    b[2].max(px + 1),
                    b[3].max(py + 1),
                ];
            }
        });
    }
    b
}

/// The image, its text boxes and the stored samples of every frame.
fn image(s: &Spec) -> (DefaultDicomObject, Vec<[usize; 4]>, Vec<i32>) {
    let (lo, hi) = range(s);
    let mut frame = background(s);
    let boxes = vec![
        // Over black, top left, at the maximum.
        draw(&mut frame, s.spp, "DOE, JANE", 6, 4, 14.0, hi),
        // Over the bright ring, at the maximum: white on white through a narrow window.
        draw(&mut frame, s.spp, "ID 4455667", 118, 50, 13.0, hi),
        // Over the anatomy, mid-image, at the minimum.
        draw(&mut frame, s.spp, "1961-03-14", 120, 130, 12.0, lo),
        // Bottom right corner.
        draw(&mut frame, s.spp, "14/03/1961", 228, 236, 11.0, hi),
    ];
    let all: Vec<i32> = (0..s.frames).flat_map(|_| frame.iter().copied()).collect();
    let bytes = if s.bits <= 8 { 1 } else { 2 };
    let mask = if s.bits >= 16 {
        0xFFFF
    } else {
        (1 << s.bits) - 1
    };
    let raw: Vec<u8> = all
        .iter()
        .flat_map(|&v| {
            let u = (v & mask) as u16;
            u.to_le_bytes()[..bytes].to_vec()
        })
        .collect();
    let ts = if s.jpeg_ls {
        "1.2.840.10008.1.2.4.80"
    } else {
        "1.2.840.10008.1.2.1"
    };
    let pixel = if s.jpeg_ls {
        let frames: Vec<Vec<u8>> = (0..s.frames)
            .map(|f| {
                let px: Vec<u16> = all[f * W * H..(f + 1) * W * H]
                    .iter()
                    .map(|&v| (v & mask) as u16)
                    .collect();
                let mut out = Vec::new();
                let mut opts = jpegls::EncodeOptions::default();
                opts.precision = Some(s.bits as u8);
                jpegls::encode_with_options(&px, W as u32, H as u32, &opts, &mut out).unwrap();
                if out.len() % 2 == 1 {
                    out.push(0);
                }
                out
            })
            .collect();
        DataElement::new(
            tags::PIXEL_DATA,
            VR::OB,
            Value::PixelSequence(PixelFragmentSequence::new(Vec::<u32>::new(), frames)),
        )
    } else if bytes == 1 {
        DataElement::new(tags::PIXEL_DATA, VR::OB, PrimitiveValue::U8(raw.into()))
    } else {
        let words: Vec<u16> = raw
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        DataElement::new(tags::PIXEL_DATA, VR::OW, PrimitiveValue::U16(words.into()))
    };
    let us = |t, v: u16| DataElement::new(t, VR::US, PrimitiveValue::from(v));
    let txt = |t, vr, v: &str| DataElement::new(t, vr, PrimitiveValue::from(v));
    let mut ds = InMemDicomObject::from_element_iter([
        txt(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.7"),
        txt(tags::SOP_INSTANCE_UID, VR::UI, "2.25.4242"),
        txt(tags::STUDY_INSTANCE_UID, VR::UI, "2.25.4243"),
        txt(tags::SERIES_INSTANCE_UID, VR::UI, "2.25.4244"),
        txt(tags::MODALITY, VR::CS, "OT"),
        txt(tags::PATIENT_NAME, VR::PN, "DOE^JANE"),
        txt(tags::PATIENT_ID, VR::LO, "4455667"),
        txt(tags::PATIENT_BIRTH_DATE, VR::DA, "19610314"),
        txt(tags::NUMBER_OF_FRAMES, VR::IS, &s.frames.to_string()),
        us(tags::SAMPLES_PER_PIXEL, s.spp as u16),
        txt(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, s.pi),
        us(tags::ROWS, H as u16),
        us(tags::COLUMNS, W as u16),
        us(tags::BITS_ALLOCATED, 8 * bytes as u16),
        us(tags::BITS_STORED, s.bits),
        us(tags::HIGH_BIT, s.bits - 1),
        us(tags::PIXEL_REPRESENTATION, u16::from(s.signed)),
        pixel,
    ]);
    if s.spp == 3 {
        ds.put(us(tags::PLANAR_CONFIGURATION, 0));
    }
    if let Some((c, w)) = s.window {
        ds.put(txt(tags::WINDOW_CENTER, VR::DS, &c.to_string()));
        ds.put(txt(tags::WINDOW_WIDTH, VR::DS, &w.to_string()));
    }
    let meta = FileMetaTableBuilder::new()
        .transfer_syntax(ts)
        .media_storage_sop_class_uid("1.2.840.10008.5.1.4.1.1.7")
        .media_storage_sop_instance_uid("2.25.4242")
        .implementation_class_uid("2.25.1")
        .build()
        .unwrap();
    (ds.with_exact_meta(meta), boxes, all)
}

fn stored(obj: &DefaultDicomObject, s: &Spec) -> Vec<i32> {
    let d = obj.decode_pixel_data().expect("the output decodes");
    let mask = if s.bits >= 16 {
        0xFFFF
    } else {
        (1 << s.bits) - 1
    };
    let sign = |u: i32| {
        if s.signed && u >> (s.bits - 1) & 1 == 1 {
            u - (1 << s.bits)
        } else {
            u
        }
    };
    if d.bits_allocated() == 8 {
        d.data().iter().map(|&b| i32::from(b)).collect()
    } else {
        d.data()
            .chunks_exact(2)
            .map(|c| sign(i32::from(u16::from_le_bytes([c[0], c[1]])) & mask))
            .collect()
    }
}

/// De-identifies the image with +Pixel and checks every text box, in every frame.
fn check(s: Spec) {
    let (obj, boxes, before) = image(&s);
    let tools = PixelTools {
        detector: Some(ocr()),
        ..PixelTools::rules(RegionRules::shipped())
    };
    let key = Key::from_file_contents(b"000102030405060708090a0b0c0d0e0f").unwrap();
    let out = deidentify_with(obj, &Plan::builtin(ProfileId::Pixel), &key, &tools).unwrap();
    let after = stored(&out.object, &s);
    assert_eq!(after.len(), before.len(), "{}: frames kept", s.pi);
    // Away from the text: 12 px above and below, 28 px (two characters) to the sides,
    // where a box is padded by its line's height.
    let near = |x: usize, y: usize| {
        boxes
            .iter()
            .any(|b| x + 28 >= b[0] && x < b[2] + 28 && y + 12 >= b[1] && y < b[3] + 12)
    };
    let frame = W * H * s.spp;
    for f in 0..s.frames {
        for (i, b) in boxes.iter().enumerate() {
            let first = after[f * frame + (b[1] * W + b[0]) * s.spp];
            for y in b[1]..b[3] {
                for x in b[0]..b[2] {
                    for k in 0..s.spp {
                        let v = after[f * frame + (y * W + x) * s.spp + k];
                        assert_eq!(
                            v, first,
                            "{} {}-bit: text {i} not blanked at ({x},{y}) in frame {f}: {:?}",
                            s.pi, s.bits, out.record.pixel_boxes
                        );
                    }
                }
            }
        }
        for y in 0..H {
            for x in 0..W {
                let i = f * frame + (y * W + x) * s.spp;
                if !near(x, y) {
                    assert_eq!(
                        after[i..i + s.spp],
                        before[i..i + s.spp],
                        "{}: pixel ({x},{y}) away from the text changed in frame {f}",
                        s.pi
                    );
                }
            }
        }
    }
    assert!(out
        .record
        .pixel_boxes
        .iter()
        .all(|b| b.source.starts_with("ocr: ")));
}

#[test]
fn ct_signed_12_bit_with_a_narrow_window() {
    // The bright ring and the ID drawn over it at the stored maximum are the same white
    // through the window: only the stored-range view shows the ID.
    check(Spec {
        pi: "MONOCHROME2",
        bits: 12,
        signed: true,
        spp: 1,
        frames: 1,
        jpeg_ls: false,
        window: Some((-1100, 500)),
    });
}

#[test]
fn text_hidden_by_the_window_is_found() {
    let s = Spec {
        pi: "MONOCHROME2",
        bits: 12,
        signed: true,
        spp: 1,
        frames: 1,
        jpeg_ls: false,
        window: Some((-1100, 500)),
    };
    let (obj, boxes, _) = image(&s);
    let views = dcmask_engine::pixel::render::text_views(&obj, 0).unwrap();
    // Through the window the ID's box is one flat white: nothing to read there.
    let id = boxes[1];
    let shown = &views[0];
    let flat = (id[1]..id[3]).all(|y| (id[0]..id[2]).all(|x| shown.pixels[y * W + x] == 255));
    assert!(flat, "the window hides the ID");
    use dcmask_engine::pixel::TextDetector;
    let inside = |w: &dcmask_engine::pixel::Word| {
        w.x0 <= id[0] as u32 && w.y0 <= id[1] as u32 && w.x1 >= id[2] as u32 && w.y1 >= id[3] as u32
    };
    let read = dcmask_engine::pixel::Read::All;
    let displayed = ocr().words(&views[..1], read).unwrap();
    assert!(!displayed.iter().any(inside), "not found as displayed");
    let all = ocr().words(&views, read).unwrap();
    assert!(all.iter().any(inside), "found with the stored-range views");
}

#[test]
fn mr_unsigned_16_bit_jpeg_ls() {
    check(Spec {
        pi: "MONOCHROME2",
        bits: 16,
        signed: false,
        spp: 1,
        frames: 1,
        jpeg_ls: true,
        window: Some((20000, 30000)),
    });
}

#[test]
fn cr_monochrome1_15_bit_jpeg_ls_two_frames() {
    check(Spec {
        pi: "MONOCHROME1",
        bits: 15,
        signed: false,
        spp: 1,
        frames: 2,
        jpeg_ls: true,
        window: None,
    });
}

#[test]
fn us_8_bit_grey() {
    check(Spec {
        pi: "MONOCHROME2",
        bits: 8,
        signed: false,
        spp: 1,
        frames: 1,
        jpeg_ls: false,
        window: None,
    });
}

#[test]
fn rgb_cine_three_frames() {
    check(Spec {
        pi: "RGB",
        bits: 8,
        signed: false,
        spp: 3,
        frames: 3,
        jpeg_ls: false,
        window: None,
    });
}

/// A test pattern's corner: black-and-white bar gratings (vertical bars above,
/// horizontal below) on grey, a name and a date drawn at the maximum across them and
/// running off them onto the grey.
fn gratings() -> (dcmask_engine::pixel::GrayImage, Vec<[usize; 4]>) {
    let mut v: Vec<i32> = (0..W * H)
        .map(|i| {
            let (x, y) = (i % W, i / W);
            let bars = if y < 64 { x / 3 % 2 } else { y / 2 % 2 };
            if (8..136).contains(&x) && (8..120).contains(&y) {
                255 * bars as i32
            } else {
                110
            }
        })
        .collect();
    let boxes = vec![
        draw(&mut v, 1, "KOWALSKI FATIMA", 40, 24, 13.0, 255),
        draw(&mut v, 1, "03/10/1956", 70, 84, 13.0, 255),
    ];
    let image = dcmask_engine::pixel::GrayImage {
        width: W as u32,
        height: H as u32,
        pixels: v.into_iter().map(|g| g as u8).collect(),
    };
    (image, boxes)
}

#[test]
fn text_over_bar_gratings_is_found_with_the_stripes_taken_out() {
    let (image, boxes) = gratings();
    // Covered by the detector's boxes once padded as the engine pads a line's box (a
    // sixth of its height above and below, a line height more on the sides).
    let covered = |found: &[crate::ocr::TextBox], b: &[usize; 4]| {
        (b[1]..b[3]).all(|y| {
            (b[0]..b[2]).all(|x| {
                found.iter().any(|&(x0, y0, x1, y1, _)| {
                    let h = (y1 - y0) as usize;
                    let (pad, side) = ((h / 6).max(2), (h / 6).max(2) + h);
                    x + side >= x0 as usize
                        && x < x1 as usize + side
                        && y + pad >= y0 as usize
                        && y < y1 as usize + pad
                })
            })
        })
    };
    let mut plain = Ocr::embedded().unwrap();
    plain.params.stripes = false;
    let without = plain.detect(std::slice::from_ref(&image)).unwrap();
    assert!(
        boxes.iter().all(|b| !covered(&without, b)),
        "over the gratings the detector alone finds neither line: {without:?}"
    );
    let with = ocr().detect(std::slice::from_ref(&image)).unwrap();
    for (i, b) in boxes.iter().enumerate() {
        assert!(covered(&with, b), "line {i} {b:?} not covered: {with:?}");
    }
}
