//! The pixel tools of every command, built in one place: region rules (shipped and
//! `--region-rules`) and, when the plan cleans pixels, the text detector (the embedded
//! OCR models or `--ocr-models DIR`: loaded before the batch starts; the workbench loads
//! them on first use).

use crate::batch::Regions;
use anyhow::{Context, Result};
use dcmask_engine::pixel::{PixelTools, TextDetector};
use dcmask_engine::{Plan, ProfileOption};
use std::path::Path;
use std::sync::Arc;

/// Region rules and the detector a run uses.
pub struct Tools {
    pub regions: Regions,
    /// `None` when the plan does not clean pixels: the models are then never loaded.
    pub detector: Option<Arc<dyn TextDetector>>,
}

impl Tools {
    /// The tools for `plan`; `--ocr-models DIR` is checked (its models loaded) here.
    pub fn for_plan(plan: &Plan, regions: Regions, ocr_models: Option<&Path>) -> Result<Tools> {
        let cleans = plan
            .effective_options()
            .contains(&ProfileOption::CleanPixelData);
        if ocr_models.is_some() && !cleans {
            anyhow::bail!(
                "--ocr-models applies to Clean Pixel Data: use --profile pixel or --option clean_pixel_data"
            );
        }
        let detector = cleans.then(|| detector(ocr_models)).transpose()?;
        if detector.is_some() {
            crate::ocr::preload()?;
        }
        Ok(Tools { regions, detector })
    }

    /// What the engine takes.
    pub fn pixel(&self) -> PixelTools<'_> {
        let mut tools = PixelTools::rules(&self.regions.rules);
        tools.detector = self.detector.as_deref();
        tools
    }
}

/// The process's text detector: the models of `dir` (checked now), else the embedded ones.
pub fn detector(dir: Option<&Path>) -> Result<Arc<dyn TextDetector>> {
    if let Some(dir) = dir {
        crate::ocr::use_models_from(dir)
            .with_context(|| format!("--ocr-models {}", dir.display()))?;
    }
    Ok(crate::ocr::detector())
}
