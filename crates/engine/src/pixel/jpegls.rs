//! JPEG-LS decoding in pure Rust: `pure_jpegls` registered in dicom-rs's transfer syntax
//! registry (its `inventory-registry`) in place of the stub dicom-rs has without CharLS,
//! so that the project builds without cmake or a C++ library.
//!
//! Single-component images (every monochrome and palette image) are decoded, lossless
//! bit-exact and near-lossless within its bound. Colour JPEG-LS (three components) is
//! refused with an error that says so: it is rare in practice (the corpus holds two
//! synthetic samples), and decoding it would take CharLS's C++ sources back into the
//! build; such a file fails cleanly instead of being passed on uncleaned.

use dicom_encoding::adapters::{decode_error, DecodeResult, PixelDataObject, PixelDataReader};
use dicom_encoding::snafu::OptionExt;
use dicom_encoding::transfer_syntax::{Codec, TransferSyntax};
use dicom_encoding::NeverPixelAdapter;

/// JPEG-LS Lossless Image Compression, the syntax the decoder is registered for.
const JPEG_LS_LOSSLESS: &str = dicom_dictionary_std::uids::JPEGLS_LOSSLESS;
/// JPEG-LS Lossy (Near-Lossless) Image Compression, registered likewise.
const JPEG_LS_NEAR_LOSSLESS: &str = dicom_dictionary_std::uids::JPEGLS_NEAR_LOSSLESS;

/// The pure-Rust JPEG-LS decoder.
#[derive(Debug, Clone, Copy)]
pub struct PureJpegLs;

fn fail(message: String) -> dicom_encoding::adapters::DecodeError {
    dicom_encoding::adapters::DecodeError::Custom {
        message,
        source: None,
    }
}

impl PixelDataReader for PureJpegLs {
    fn decode_frame(
        &self,
        src: &dyn PixelDataObject,
        frame: u32,
        dst: &mut Vec<u8>,
    ) -> DecodeResult<()> {
        let spp = src.samples_per_pixel().unwrap_or(1);
        if spp != 1 {
            return Err(fail(format!(
                "JPEG-LS with {spp} samples per pixel (colour) is not supported; \
                 convert the file to another transfer syntax first"
            )));
        }
        let bits = src
            .bits_allocated()
            .context(decode_error::MissingAttributeSnafu {
                name: "BitsAllocated",
            })?;
        if bits != 8 && bits != 16 {
            return Err(fail(format!(
                "JPEG-LS with Bits Allocated {bits} is not supported (8 or 16)"
            )));
        }
        let rows = src
            .rows()
            .context(decode_error::MissingAttributeSnafu { name: "Rows" })?;
        let cols = src
            .cols()
            .context(decode_error::MissingAttributeSnafu { name: "Columns" })?;
        let data = src
            .frame_pixel_data(frame)
            .context(decode_error::FrameRangeOutOfBoundsSnafu)?;
        let (pixels, _, _) = ::jpegls::decode(&data, u32::from(cols), u32::from(rows))
            .map_err(|e| fail(format!("cannot decode JPEG-LS frame {frame}: {e}")))?;
        if bits == 8 {
            dst.extend(pixels.iter().map(|&v| v as u8));
        } else {
            dst.extend(pixels.iter().flat_map(|v| v.to_le_bytes()));
        }
        Ok(())
    }
}

dicom_encoding::submit_transfer_syntax!(TransferSyntax::new_ele(
    JPEG_LS_LOSSLESS,
    "JPEG-LS Lossless Image Compression",
    Codec::<_, _, NeverPixelAdapter>::encapsulated_pixel_data_reader(PureJpegLs),
));
dicom_encoding::submit_transfer_syntax!(TransferSyntax::new_ele(
    JPEG_LS_NEAR_LOSSLESS,
    "JPEG-LS Lossy (Near-Lossless) Image Compression",
    Codec::<_, _, NeverPixelAdapter>::encapsulated_pixel_data_reader(PureJpegLs),
));
