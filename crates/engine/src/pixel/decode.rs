//! Decoding pixel data, isolated: every call into dicom-pixeldata's decoders (and the
//! conversions after them) goes through here.
//!
//! The codecs behind dicom-pixeldata (RLE, JPEG, JPEG-LS, JPEG 2000) index into the
//! fragments as their headers say; a damaged or relabelled file can make them panic. A
//! panic here becomes [`Error::Pixel`] for that object, never the end of a batch. Before
//! decoding, the image the header describes is bounded by [`MAX_DECODED`].

use crate::error::{Error, Limit, Result};
use dicom_core::value::Value;
use dicom_dictionary_std::tags;
use dicom_object::DefaultDicomObject;
use dicom_pixeldata::{DecodedPixelData, PixelDecoder};
use std::cell::Cell;
use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The largest image decoded at once, as Rows × Columns × Samples per Pixel × bytes per
/// sample × frames: 2 GiB (a 1,000-frame colour ultrasound cine of 800 × 600 takes 1.4).
pub const MAX_DECODED: u64 = 2 << 30;

/// Deflated Image Frame Compression: each fragment is one deflated frame, which
/// dicom-rs inflates to whatever length it holds, not to the frame's size.
const DEFLATED_FRAMES: &str = dicom_dictionary_std::uids::DEFLATED_IMAGE_FRAME_COMPRESSION;

/// Every frame of the pixel data, decoded.
pub fn all(obj: &DefaultDicomObject) -> Result<DecodedPixelData<'_>> {
    let frames = frames(obj);
    let size = decoded_size(obj, frames)?;
    check_deflated_frames(obj, size / frames, None)?;
    check_jpeg_frames(obj)?;
    isolated("decoding the pixel data", || {
        obj.decode_pixel_data().map_err(|e| {
            Error::pixel(format!(
                "cannot decode the pixel data ({size} bytes decoded) of transfer syntax {}: {e}",
                transfer_syntax(obj)
            ))
        })
    })
}

/// One frame of the pixel data (from 0), decoded.
pub fn frame(obj: &DefaultDicomObject, frame: u32) -> Result<DecodedPixelData<'_>> {
    let size = decoded_size(obj, 1)?;
    check_deflated_frames(obj, size, Some(frame as usize))?;
    check_jpeg_frames(obj)?;
    isolated("decoding a frame", || {
        obj.decode_pixel_data_frame(frame)
            .map_err(|e| Error::Pixel {
                detail: format!(
                    "cannot decode frame {frame} of transfer syntax {}: {e}",
                    transfer_syntax(obj)
                ),
                frame: Some(frame),
            })
    })
}

thread_local! {
    static ISOLATING: Cell<usize> = const { Cell::new(0) };
}

/// Whether this thread runs inside [`isolated`]: a panic now is expected on damaged
/// pixel data and handled, so a panic hook need not report it as a bug.
pub fn isolating() -> bool {
    ISOLATING.with(Cell::get) > 0
}

/// Runs `f` (work on decoded pixels, such as a conversion to an image), turning a panic
/// into [`Error::Pixel`]. The panic's message is not kept: it could quote data.
pub fn isolated<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    ISOLATING.with(|n| n.set(n.get() + 1));
    let outcome = catch_unwind(AssertUnwindSafe(f));
    ISOLATING.with(|n| n.set(n.get() - 1));
    outcome.unwrap_or_else(|_| {
        Err(Error::pixel(format!(
            "the pixel decoder failed while {what} (damaged or inconsistent pixel data)"
        )))
    })
}

fn transfer_syntax(obj: &DefaultDicomObject) -> String {
    obj.meta()
        .transfer_syntax()
        .trim_end_matches(['\0', ' '])
        .to_string()
}

/// A frame of Deflated Image Frame Compression (all, or `only` the one) may not inflate
/// beyond `frame_size`: inflated here into nothing first, it never costs more than that.
fn check_deflated_frames(
    obj: &DefaultDicomObject,
    frame_size: u64,
    only: Option<usize>,
) -> Result<()> {
    if transfer_syntax(obj) != DEFLATED_FRAMES {
        return Ok(());
    }
    let Some(Value::PixelSequence(seq)) = obj.get(tags::PIXEL_DATA).map(|e| e.value()) else {
        return Ok(());
    };
    for (i, fragment) in seq.fragments().iter().enumerate() {
        if only.is_some_and(|f| f != i) {
            continue;
        }
        let mut inflated = flate2::read::DeflateDecoder::new(&fragment[..]).take(frame_size + 1);
        let n = std::io::copy(&mut inflated, &mut std::io::sink()).unwrap_or(0);
        if n > frame_size {
            return Err(Error::limit(
                Limit::DeflatedFrame,
                format!(
                    "deflated frame {i} inflates to more than the {frame_size} bytes of a frame"
                ),
            ));
        }
    }
    Ok(())
}

/// The transfer syntaxes dicom-rs decodes with jpeg-decoder, which allocates the frame
/// its SOF marker declares (65535 × 65535 in a damaged file: 12 GB), whatever the header
/// says.
const JPEG_DECODER: [&str; 4] = [
    dicom_dictionary_std::uids::JPEG_BASELINE8_BIT,
    dicom_dictionary_std::uids::JPEG_EXTENDED12_BIT,
    dicom_dictionary_std::uids::JPEG_LOSSLESS,
    dicom_dictionary_std::uids::JPEG_LOSSLESS_SV1,
];

/// Every JPEG frame in the fragments must fit in Columns × Rows.
fn check_jpeg_frames(obj: &DefaultDicomObject) -> Result<()> {
    if !JPEG_DECODER.contains(&transfer_syntax(obj).as_str()) {
        return Ok(());
    }
    let Some(Value::PixelSequence(seq)) = obj.get(tags::PIXEL_DATA).map(|e| e.value()) else {
        return Ok(());
    };
    let int = |t| obj.get(t).and_then(|e| e.to_int::<u32>().ok()).unwrap_or(0);
    let (rows, cols) = (int(tags::ROWS), int(tags::COLUMNS));
    for fragment in seq.fragments() {
        if let Some((w, h)) = jpeg_frame_size(fragment) {
            if u32::from(w) > cols || u32::from(h) > rows {
                return Err(Error::pixel(format!(
                    "a JPEG frame of {w} × {h} in an image of {cols} × {rows}: the pixel data \
                     does not match its header"
                )));
            }
        }
    }
    Ok(())
}

/// The (width, height) of the frame header (SOFn) of a JPEG codestream (ITU-T T.81 B.2),
/// found by stepping over the marker segments before it; `None` for a fragment that does
/// not start a codestream.
fn jpeg_frame_size(data: &[u8]) -> Option<(u16, u16)> {
    if !data.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut i = 2;
    while i + 4 <= data.len() {
        if data[i] != 0xFF {
            return None;
        }
        let marker = data[i + 1];
        match marker {
            // Fill byte, or a marker without a segment.
            0xFF => i += 1,
            0x01 | 0xD0..=0xD7 => i += 2,
            // Start of scan: no frame header before it.
            0xDA => return None,
            // SOF0-SOF15 (C4 DHT, C8 JPG and CC DAC are not frame headers).
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                let f = data.get(i + 5..i + 9)?;
                return Some((
                    u16::from_be_bytes([f[2], f[3]]),
                    u16::from_be_bytes([f[0], f[1]]),
                ));
            }
            _ => i += 2 + usize::from(u16::from_be_bytes([data[i + 2], data[i + 3]])),
        }
    }
    None
}

/// Number of Frames, 1 when absent or unreadable.
fn frames(obj: &DefaultDicomObject) -> u64 {
    obj.get(tags::NUMBER_OF_FRAMES)
        .and_then(|e| e.to_int::<u64>().ok())
        .unwrap_or(1)
        .max(1)
}

/// The size of `frames` decoded frames as the header describes them, refused beyond
/// [`MAX_DECODED`] (computed without overflow, so absurd dimensions are refused too).
fn decoded_size(obj: &DefaultDicomObject, frames: u64) -> Result<u64> {
    let int = |t| obj.get(t).and_then(|e| e.to_int::<u64>().ok()).unwrap_or(0);
    let bytes_per_sample = int(tags::BITS_ALLOCATED).div_ceil(8);
    let size = [
        int(tags::ROWS),
        int(tags::COLUMNS),
        int(tags::SAMPLES_PER_PIXEL).max(1),
        bytes_per_sample,
        frames,
    ]
    .into_iter()
    .try_fold(1u64, u64::checked_mul)
    .filter(|s| *s <= MAX_DECODED);
    size.ok_or_else(|| {
        Error::limit(
            Limit::Decoded,
            format!(
                "the image ({} frame(s) of {} × {} × {} at {} bits) decodes to more than {} MiB",
                frames,
                int(tags::COLUMNS),
                int(tags::ROWS),
                int(tags::SAMPLES_PER_PIXEL).max(1),
                int(tags::BITS_ALLOCATED),
                MAX_DECODED >> 20
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_frame_sizes_are_read_from_the_frame_header() {
        // SOI, an APP0 segment holding bytes that look like a SOF, then SOF0 of 640 × 480.
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 8, 0xFF, 0xC0, 0, 9, 9, 9];
        jpeg.extend([0xFF, 0xC0, 0, 17, 8, 0x01, 0xE0, 0x02, 0x80, 3]);
        assert_eq!(jpeg_frame_size(&jpeg), Some((640, 480)));
        // A scan before any frame header, a fragment that is not a codestream start, a cut.
        assert_eq!(jpeg_frame_size(&[0xFF, 0xD8, 0xFF, 0xDA, 0, 2]), None);
        assert_eq!(jpeg_frame_size(&[1, 2, 3, 4, 5, 6]), None);
        assert_eq!(jpeg_frame_size(&jpeg[..16]), None);
    }

    #[test]
    fn a_panic_becomes_a_pixel_error_without_its_message() {
        let r: Result<()> = isolated("testing", || {
            assert!(isolating());
            panic!("Doe^Jane")
        });
        assert!(!isolating());
        let e = r.unwrap_err();
        assert!(matches!(e, Error::Pixel { .. }), "{e:?}");
        assert!(!e.to_string().contains("Doe"), "{e}");
        assert!(e.to_string().contains("while testing"), "{e}");
    }
}
