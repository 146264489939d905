//! The pixel tools of every command, built in one place: region rules (shipped and
//! `--region-rules`) and, when the plan cleans pixels, the text detector (the embedded
//! OCR models or `--ocr-models DIR`: loaded before the batch starts; the workbench loads
//! them on first use).

use crate::batch::Regions;
use anyhow::{Context, Result};
use clap::Args;
use dcmask_engine::pixel::{PixelTools, TextDetector};
use dcmask_engine::{Key, Plan, ProfileOption};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The flags `serve`, `anonymize` and `inspect` share: the key and the pixel tools.
#[derive(Args, Clone)]
pub struct ToolArgs {
    /// Key file; by default a key created on first use in the data directory.
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// More burned-in text regions for Clean Pixel Data: a CSV with the columns of the
    /// shipped pixel-regions.csv (condition,x0,y0,x1,y1; rule and label optional), applied
    /// with the shipped rules.
    #[arg(long, value_name = "CSV")]
    pub region_rules: Option<PathBuf>,
    /// Clean Pixel Data: OCR models to use instead of the embedded ones (`det.onnx`,
    /// `rec.onnx`, optional `dict.txt`, PP-OCR layout).
    #[arg(long, value_name = "DIR")]
    pub ocr_models: Option<PathBuf>,
}

impl ToolArgs {
    /// The key of `--key-file`, or the data directory's (created on first use).
    pub fn key(&self) -> Result<Key> {
        crate::keystore::load_key(self.key_file.as_deref())
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        tools: ToolArgs,
    }

    #[test]
    fn the_shared_flags_parse_into_one_group() {
        let cli = Cli::try_parse_from([
            "dcmask",
            "--key-file",
            "k.key",
            "--region-rules",
            "r.csv",
            "--ocr-models",
            "models",
        ])
        .unwrap();
        assert_eq!(cli.tools.key_file.as_deref(), Some(Path::new("k.key")));
        assert_eq!(cli.tools.region_rules.as_deref(), Some(Path::new("r.csv")));
        assert_eq!(cli.tools.ocr_models.as_deref(), Some(Path::new("models")));
    }
}
