//! The 8-bit grey images text detection reads for one frame.
//!
//! Text is burned in at whatever value the device chose, often the stored maximum or
//! minimum, and a header window can show it as the same white or black as the anatomy
//! around it. So a monochrome frame is read as it is displayed; also at its stored range
//! (the frame's lowest to highest stored value, linearly, MONOCHROME1 inverted), where
//! every value stays distinct, unless that is what is displayed; and at its extremes: the
//! frame's highest values white, its lowest black, everything else mid-grey, so that
//! text drawn at an extreme over anatomy of nearly the same brightness stands out as
//! clearly as on a black background. Colour and palette frames are read as displayed,
//! in luma, and at the extremes of that luma.

use crate::error::{Error, Result};
use dicom_object::DefaultDicomObject;
use dicom_pixeldata::{ConvertOptions, DecodedPixelData};

/// An 8-bit greyscale image, row-major, `width * height` bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct GrayImage {
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// One byte per pixel, 0 black to 255 white, row after row.
    pub pixels: Vec<u8>,
}

impl std::fmt::Debug for GrayImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GrayImage({}×{})", self.width, self.height)
    }
}

/// The frame as displayed, at its stored range (unless that is what is displayed) and at
/// its extremes. The frame is decoded and converted through [`super::decode`]: bounded and with a
/// decoder's panic an error for this object.
pub fn text_views(obj: &DefaultDicomObject, frame: u32) -> Result<Vec<GrayImage>> {
    let decoded = super::decode::frame(obj, frame)?;
    super::decode::isolated("reading a frame for text detection", || {
        views(&decoded, frame)
    })
}

/// The views of one decoded frame.
fn views(decoded: &DecodedPixelData, frame: u32) -> Result<Vec<GrayImage>> {
    let image = decoded
        .to_dynamic_image_with_options(0, &ConvertOptions::new().force_8bit())
        .map_err(|e| Error::pixel(format!("cannot convert frame {frame} to grey: {e}")))?
        .to_luma8();
    let mut views = vec![GrayImage {
        width: image.width(),
        height: image.height(),
        pixels: image.into_raw(),
    }];
    let pi = decoded.photometric_interpretation().as_str().to_string();
    if decoded.samples_per_pixel() == 1 && pi.starts_with("MONOCHROME") {
        let values = stored_values(decoded)?;
        let invert = pi == "MONOCHROME1";
        let (w, h) = (decoded.columns(), decoded.rows());
        // Also without a window: the decoder's default display may leave text a few grey
        // levels from the anatomy (a CT whose window is only in a private tag).
        let stored = stored_range(&values, w, h, invert);
        if stored.pixels != views[0].pixels {
            views.push(stored);
        }
        views.push(extremes(&values, w, h, invert));
    } else {
        // Colour and palette: the extremes of the displayed brightness.
        let shown = &views[0];
        let luma: Vec<i64> = shown.pixels.iter().map(|&g| i64::from(g)).collect();
        views.push(extremes(&luma, shown.width, shown.height, false));
    }
    Ok(views)
}

/// The frame's lowest and highest value.
fn bounds(values: &[i64]) -> (i64, i64) {
    values
        .iter()
        .fold((i64::MAX, i64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)))
}

/// The values mapped linearly from the frame's lowest to its highest onto 0–255
/// (inverted for MONOCHROME1, so text reads as displayed).
fn stored_range(values: &[i64], w: u32, h: u32, invert: bool) -> GrayImage {
    let (lo, hi) = bounds(values);
    let span = (hi - lo).max(1) as f64;
    let pixels = values
        .iter()
        .map(|&v| {
            let g = ((v - lo) as f64 * 255.0 / span).round() as u8;
            if invert {
                255 - g
            } else {
                g
            }
        })
        .collect();
    GrayImage {
        width: w,
        height: h,
        pixels,
    }
}

/// Values within half a percent of the frame's highest white, of its lowest black, the
/// rest mid-grey (swapped for MONOCHROME1).
fn extremes(values: &[i64], w: u32, h: u32, invert: bool) -> GrayImage {
    let (lo, hi) = bounds(values);
    let tol = ((hi - lo) / 200).max(0);
    let (top, bottom) = if invert { (0, 255) } else { (255, 0) };
    let pixels = values
        .iter()
        .map(|&v| {
            if v >= hi - tol {
                top
            } else if v <= lo + tol {
                bottom
            } else {
                128
            }
        })
        .collect();
    GrayImage {
        width: w,
        height: h,
        pixels,
    }
}

/// The stored values of frame 0 of a decoded monochrome frame, sign-extended.
fn stored_values(decoded: &DecodedPixelData) -> Result<Vec<i64>> {
    let (w, h) = (decoded.columns(), decoded.rows());
    let n = w as usize * h as usize;
    let data = decoded
        .frame_data(0)
        .map_err(|e| Error::pixel(format!("cannot read the decoded frame: {e}")))?;
    let bits = decoded.bits_stored().clamp(1, 32) as u32;
    let signed = decoded.pixel_representation() as u16 == 1;
    let bytes = decoded.bits_allocated().div_ceil(8) as usize;
    if !matches!(bytes, 1 | 2 | 4) || data.len() < n * bytes {
        return Err(Error::pixel(format!(
            "decoded frame of {} bytes for {w}×{h} at {} bits",
            data.len(),
            decoded.bits_allocated()
        )));
    }
    let mask: u64 = if bits >= 32 {
        u32::MAX as u64
    } else {
        (1u64 << bits) - 1
    };
    let values: Vec<i64> = data[..n * bytes]
        .chunks_exact(bytes)
        .map(|c| {
            let mut b = [0u8; 8];
            b[..bytes].copy_from_slice(c);
            let raw = u64::from_le_bytes(b) & mask;
            if signed && raw >> (bits - 1) & 1 == 1 {
                raw as i64 - (1i64 << bits)
            } else {
                raw as i64
            }
        })
        .collect();
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::tags;
    use dicom_object::InMemDicomObject;

    /// A 4×2 MONOCHROME signed 12-bit frame with a narrow window.
    fn ct(pi: &str, values: &[i16]) -> DefaultDicomObject {
        let us = |t, v: u16| DataElement::new(t, VR::US, PrimitiveValue::from(v));
        InMemDicomObject::from_element_iter([
            DataElement::new(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.2"),
            DataElement::new(tags::SOP_INSTANCE_UID, VR::UI, "2.25.5"),
            us(tags::SAMPLES_PER_PIXEL, 1),
            DataElement::new(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, pi),
            us(tags::ROWS, 2),
            us(tags::COLUMNS, 4),
            us(tags::BITS_ALLOCATED, 16),
            us(tags::BITS_STORED, 12),
            us(tags::HIGH_BIT, 11),
            us(tags::PIXEL_REPRESENTATION, 1),
            DataElement::new(tags::WINDOW_CENTER, VR::DS, "40"),
            DataElement::new(tags::WINDOW_WIDTH, VR::DS, "400"),
            DataElement::new(
                tags::PIXEL_DATA,
                VR::OW,
                PrimitiveValue::U16(values.iter().map(|&v| (v as u16) & 0x0FFF).collect()),
            ),
        ])
        .with_exact_meta(
            dicom_object::meta::FileMetaTableBuilder::new()
                .transfer_syntax(super::super::EXPLICIT_VR_LE)
                .media_storage_sop_class_uid("1.2.840.10008.5.1.4.1.1.2")
                .media_storage_sop_instance_uid("2.25.5")
                .implementation_class_uid("2.25.1")
                .build()
                .unwrap(),
        )
    }

    #[test]
    fn a_window_that_hides_the_extremes_gets_a_stored_range_view() {
        // Bone at 1500 and text at the stored maximum 2047 are both white through the
        // window; at the stored range they differ.
        let obj = ct("MONOCHROME2", &[-2048, 0, 1500, 2047, 40, 40, 1500, 2047]);
        let views = text_views(&obj, 0).unwrap();
        assert_eq!(views.len(), 3);
        assert_eq!(views[0].pixels[2], views[0].pixels[3], "window: both white");
        assert_eq!(&views[1].pixels[..4], &[0, 128, 221, 255]);
        assert_eq!(&views[2].pixels[..4], &[0, 128, 128, 255], "extremes");
        // Without a window the stored range is read too, where the default display
        // differs from it.
        let mut plain = ct("MONOCHROME2", &[-2048, 0, 1500, 2047, 40, 40, 1500, 2047]);
        plain.remove_element(tags::WINDOW_CENTER);
        plain.remove_element(tags::WINDOW_WIDTH);
        let views = text_views(&plain, 0).unwrap();
        assert_eq!(views.len(), 3);
        assert_eq!(&views[1].pixels[..4], &[0, 128, 221, 255]);
        let inverted =
            text_views(&ct("MONOCHROME1", &[-2048, 0, 1500, 2047, 0, 0, 0, 0]), 0).unwrap();
        assert_eq!(&inverted[1].pixels[..4], &[255, 127, 34, 0]);
        assert_eq!(&inverted[2].pixels[..4], &[255, 128, 128, 0]);
    }
}
