//! Blanking rectangles of the image in every frame, written back losslessly as native
//! Explicit VR Little Endian pixel data.

use crate::error::{Error, Result};
use crate::record::PixelBox;
use dicom_core::value::Value;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_dictionary_std::uids;
use dicom_object::{DefaultDicomObject, InMemDicomObject};
use dicom_pixeldata::PlanarConfiguration;

/// Explicit VR Little Endian, the transfer syntax of every cleaned object.
pub const EXPLICIT_VR_LE: &str = uids::EXPLICIT_VR_LITTLE_ENDIAN;
const RLE_LOSSLESS: &str = uids::RLE_LOSSLESS;
const ENCAPSULATED_UNCOMPRESSED: &str = uids::ENCAPSULATED_UNCOMPRESSED_EXPLICIT_VR_LITTLE_ENDIAN;
/// Transfer syntaxes that are always lossy (JPEG baseline and extended).
const ALWAYS_LOSSY: [(&str, &str); 2] = [
    (uids::JPEG_BASELINE8_BIT, "ISO_10918_1"),
    (uids::JPEG_EXTENDED12_BIT, "ISO_10918_1"),
];

/// The boxes clipped to a `rows` × `columns` image; empty boxes are dropped.
pub fn clip(boxes: &[PixelBox], rows: u32, columns: u32) -> Vec<PixelBox> {
    boxes
        .iter()
        .map(|b| PixelBox {
            x0: b.x0.min(columns),
            y0: b.y0.min(rows),
            x1: b.x1.min(columns),
            y1: b.y1.min(rows),
            source: b.source.clone(),
        })
        .filter(|b| b.x1 > b.x0 && b.y1 > b.y0)
        .collect()
}

/// Sets every sample inside the boxes to black in every frame and stores the pixels as
/// native data, transfer syntax Explicit VR Little Endian. Returns the boxes as applied
/// (clipped to the image). When none is left after clipping, the object is untouched
/// (not even decoded). Fails with [`Error::Pixel`] when the pixels cannot be decoded:
/// the caller must then not pass the file on as cleaned.
/// The decoding and the blanking run isolated ([`super::decode`]): a panic on damaged
/// pixel data is that error.
pub fn blank_boxes(obj: &mut DefaultDicomObject, boxes: &[PixelBox]) -> Result<Vec<PixelBox>> {
    super::decode::isolated("blanking regions", || blank(obj, boxes))
}

fn blank(obj: &mut DefaultDicomObject, boxes: &[PixelBox]) -> Result<Vec<PixelBox>> {
    let dim = |t| obj.get(t).and_then(|e| e.to_int::<u32>().ok());
    let (Some(rows), Some(cols)) = (dim(tags::ROWS), dim(tags::COLUMNS)) else {
        return Ok(Vec::new());
    };
    let applied = clip(boxes, rows, cols);
    if applied.is_empty() {
        return Ok(applied);
    }
    let Some(pixel_elem) = obj.get(tags::PIXEL_DATA) else {
        return Err(Error::pixel(
            "regions to blank, but the object has no Pixel Data (7FE0,0010)",
        ));
    };
    let encapsulated = matches!(pixel_elem.value(), Value::PixelSequence(_));
    let ts = obj
        .meta()
        .transfer_syntax()
        .trim_end_matches(['\0', ' '])
        .to_string();
    let original_pi = obj
        .get(tags::PHOTOMETRIC_INTERPRETATION)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_matches(['\0', ' ']).to_ascii_uppercase())
        .unwrap_or_default();

    let decoded = super::decode::all(obj).map_err(|e| match e {
        Error::Pixel { detail, frame } => Error::Pixel {
            detail: format!("{detail}; burned-in text was not removed"),
            frame,
        },
        other => other,
    })?;
    let frames = decoded.number_of_frames().max(1) as usize;
    let spp = decoded.samples_per_pixel() as usize;
    let bits_allocated = decoded.bits_allocated();
    let bits_stored = decoded.bits_stored();
    let high_bit = decoded.high_bit();
    let signed = decoded.pixel_representation() as u16 == 1;
    let planar = spp > 1 && decoded.planar_configuration() == PlanarConfiguration::PixelFirst;
    if !matches!(bits_allocated, 8 | 16 | 32) {
        return Err(Error::pixel(format!(
            "Bits Allocated {bits_allocated} is not supported for blanking (8, 16 or 32)"
        )));
    }
    if bits_stored == 0 || bits_stored > bits_allocated || !matches!(spp, 1 | 3) {
        return Err(Error::pixel(format!(
            "inconsistent image description (Bits Stored {bits_stored}, Bits Allocated \
             {bits_allocated}, Samples per Pixel {spp})"
        )));
    }
    // Decoders of compressed colour (JPEG, JPEG 2000) hand back RGB; RLE and
    // uncompressed data keep their photometric interpretation.
    let converted = encapsulated && ts != RLE_LOSSLESS && ts != ENCAPSULATED_UNCOMPRESSED;
    let out_pi = if converted && spp == 3 {
        "RGB".to_string()
    } else {
        original_pi.clone()
    };
    let black = black_samples(&out_pi, spp, bits_stored, signed)?;
    let bpp = bits_allocated as usize / 8;
    let (r, c) = (rows as usize, cols as usize);
    let expected = r * c * spp * bpp * frames;
    let mut data = decoded.into_data();
    if data.len() < expected {
        return Err(Error::pixel(format!(
            "decoded pixel data holds {} bytes, {expected} expected for {frames} frame(s) of \
             {cols}×{rows}×{spp} at {bits_allocated} bits",
            data.len()
        )));
    }
    data.truncate(expected);

    let shift = (high_bit + 1).saturating_sub(bits_stored);
    let encode = |v: i64| -> Vec<u8> { ((v << shift) as u64).to_le_bytes()[..bpp].to_vec() };
    let black: Vec<Vec<u8>> = black.into_iter().map(encode).collect();
    let pixel: Vec<u8> = black.concat();
    let frame_len = r * c * spp * bpp;
    for f in 0..frames {
        let frame = &mut data[f * frame_len..(f + 1) * frame_len];
        for b in &applied {
            let (x0, x1) = (b.x0 as usize, b.x1 as usize);
            for y in b.y0 as usize..b.y1 as usize {
                if planar {
                    for (s, sample) in black.iter().enumerate() {
                        let start = ((s * r + y) * c + x0) * bpp;
                        let end = ((s * r + y) * c + x1) * bpp;
                        for chunk in frame[start..end].chunks_exact_mut(bpp) {
                            chunk.copy_from_slice(sample);
                        }
                    }
                } else {
                    let start = (y * c + x0) * spp * bpp;
                    let end = (y * c + x1) * spp * bpp;
                    for chunk in frame[start..end].chunks_exact_mut(spp * bpp) {
                        chunk.copy_from_slice(&pixel);
                    }
                }
            }
        }
    }

    // Write back as native pixel data.
    let value = if bits_allocated == 8 {
        if data.len() % 2 == 1 {
            data.push(0);
        }
        DataElement::new(tags::PIXEL_DATA, VR::OB, PrimitiveValue::U8(data.into()))
    } else {
        let words: Vec<u16> = data
            .chunks_exact(2)
            .map(|w| u16::from_le_bytes([w[0], w[1]]))
            .collect();
        DataElement::new(tags::PIXEL_DATA, VR::OW, PrimitiveValue::U16(words.into()))
    };
    obj.put(value);
    if out_pi != original_pi {
        obj.put(DataElement::new(
            tags::PHOTOMETRIC_INTERPRETATION,
            VR::CS,
            out_pi.as_str(),
        ));
    }
    if spp > 1 {
        obj.put(DataElement::new(
            tags::PLANAR_CONFIGURATION,
            VR::US,
            PrimitiveValue::from(u16::from(planar)),
        ));
    }
    // The offset tables describe fragments that are gone.
    obj.remove_element(Tag(0x7FE0, 0x0001));
    obj.remove_element(Tag(0x7FE0, 0x0002));
    if let Some((_, method)) = ALWAYS_LOSSY.iter().find(|(uid, _)| *uid == ts) {
        mark_lossy(obj, method);
    }
    obj.update_meta(|m| m.transfer_syntax = EXPLICIT_VR_LE.to_string());
    Ok(applied)
}

/// Lossy Image Compression stays "01" once an image was ever lossy-compressed.
fn mark_lossy(obj: &mut InMemDicomObject, method: &str) {
    let already = obj
        .get(tags::LOSSY_IMAGE_COMPRESSION)
        .and_then(|e| e.to_str().ok())
        .is_some_and(|s| s.trim() == "01");
    if !already {
        obj.put(DataElement::new(
            tags::LOSSY_IMAGE_COMPRESSION,
            VR::CS,
            "01",
        ));
        if obj.get(tags::LOSSY_IMAGE_COMPRESSION_METHOD).is_none() {
            obj.put(DataElement::new(
                tags::LOSSY_IMAGE_COMPRESSION_METHOD,
                VR::CS,
                method,
            ));
        }
    }
}

/// The stored value of each sample that displays as black.
fn black_samples(pi: &str, spp: usize, bits_stored: u16, signed: bool) -> Result<Vec<i64>> {
    let (min, max, mid) = if signed {
        let h = 1i64 << (bits_stored - 1);
        (-h, h - 1, 0)
    } else {
        (0, (1i64 << bits_stored) - 1, 1i64 << (bits_stored - 1))
    };
    let v = match (pi, spp) {
        ("MONOCHROME1", 1) => vec![max],
        ("MONOCHROME2", 1) => vec![min],
        // An index into the palette: a uniform fill hides the text whatever colour it maps to.
        ("PALETTE COLOR", 1) => vec![0],
        ("RGB", 3) => vec![min; 3],
        ("YBR_FULL", 3) => vec![min, mid, mid],
        _ => {
            return Err(Error::pixel(format!(
                "photometric interpretation {} with {spp} sample(s) per pixel is not supported \
                 for blanking",
                if pi.is_empty() { "(missing)" } else { pi }
            )))
        }
    };
    Ok(v)
}
