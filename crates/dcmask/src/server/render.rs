//! View mode: decoding the image server-side with dicom-pixeldata and sending PNG frames.

use super::ApiError;
use dicom_dictionary_std::tags;
use dicom_object::DefaultDicomObject;
use dicom_pixeldata::{ConvertOptions, PixelDecoder, VoiLutOption, WindowLevel};
use serde::Serialize;

#[derive(Serialize)]
pub struct ImageInfo {
    has_image: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    frames: u32,
    rows: u32,
    columns: u32,
    photometric: String,
    window: Option<Window>,
}

#[derive(Serialize, Clone, Copy)]
pub struct Window {
    center: f64,
    width: f64,
}

fn number(obj: &DefaultDicomObject, tag: dicom_core::Tag) -> Option<f64> {
    obj.get(tag)?
        .to_str()
        .ok()?
        .split('\\')
        .next()?
        .trim()
        .parse()
        .ok()
}

/// Number of Frames, 1 when absent.
pub fn frames(obj: &DefaultDicomObject) -> u32 {
    number(obj, tags::NUMBER_OF_FRAMES)
        .map(|n| n.max(1.0) as u32)
        .unwrap_or(1)
}

pub fn info(obj: &DefaultDicomObject) -> ImageInfo {
    let no_image = |reason: &str| ImageInfo {
        has_image: false,
        reason: Some(reason.into()),
        frames: 0,
        rows: 0,
        columns: 0,
        photometric: String::new(),
        window: None,
    };
    if obj.get(tags::PIXEL_DATA).is_none() {
        return no_image(
            "it has no Pixel Data (for example a structured report or a presentation state)",
        );
    }
    let text = |t| {
        obj.get(t)
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim().to_string())
    };
    let window = match (
        number(obj, tags::WINDOW_CENTER),
        number(obj, tags::WINDOW_WIDTH),
    ) {
        (Some(center), Some(width)) if width > 0.0 => Some(Window { center, width }),
        _ => None,
    };
    ImageInfo {
        has_image: true,
        reason: None,
        frames: frames(obj),
        rows: number(obj, tags::ROWS).unwrap_or(0.0) as u32,
        columns: number(obj, tags::COLUMNS).unwrap_or(0.0) as u32,
        photometric: text(tags::PHOTOMETRIC_INTERPRETATION).unwrap_or_default(),
        window,
    }
}

/// One frame as PNG, with an optional window (ignored for colour images).
pub fn frame_png(
    obj: &DefaultDicomObject,
    frame: u32,
    window: Option<(f64, f64)>,
) -> Result<Vec<u8>, ApiError> {
    let decoded = obj
        .decode_pixel_data_frame(frame)
        .map_err(|e| ApiError::unprocessable(format!("cannot decode this image: {e}")))?;
    let mut options = ConvertOptions::new().force_8bit();
    if let Some((center, width)) = window.filter(|(_, w)| *w > 0.0) {
        options = options.with_voi_lut(VoiLutOption::Custom(WindowLevel { center, width }));
    }
    let image = decoded
        .to_dynamic_image_with_options(0, &options)
        .map_err(|e| ApiError::unprocessable(format!("cannot convert this image: {e}")))?;
    let mut png = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut png, image::ImageFormat::Png)
        .map_err(|e| {
            tracing::warn!("cannot encode a PNG: {e}");
            ApiError::internal()
        })?;
    Ok(png.into_inner())
}
