//! What a finished run says: failures and files with burned-in text on stderr, the
//! counts and rates (unless `--quiet`), where the shareable output and the linkage are,
//! and with `--json` one summary object on stdout; and the exit code.

use super::report::{FileReport, Status};
use super::setup::Setup;
use super::{progress, shown, AnonymizeArgs, Finished, NOT_TRIED_FULL};
use anyhow::Result;
use std::path::PathBuf;
use std::process::ExitCode;

/// Prints the run's outcome and gives its exit code: 1 when a file failed or a side file
/// could not be written, else 0.
pub(super) fn print(
    args: &AnonymizeArgs,
    setup: &Setup,
    finished: &Finished,
    elapsed: f64,
) -> Result<ExitCode> {
    let Finished {
        files,
        counts,
        unwritten,
        ..
    } = finished;
    let resumed = files.iter().filter(|f| f.resumed).count() as u64;
    let rates = Rates {
        resumed,
        processed_bytes: files
            .iter()
            .filter(|f| !f.resumed)
            .map(|f| f.bytes_in)
            .sum(),
        processed_files: files.len() as u64 - resumed,
    };
    let code = if counts.failed > 0 || !unwritten.is_empty() {
        1
    } else {
        0
    };

    print_failures(files, &args.inputs);
    print_burned_in(files, counts.burned_in);
    // Said even under --quiet: the user must know the run stopped and what is missing.
    let not_tried = files
        .iter()
        .filter(|f| f.reason.as_deref() == Some(NOT_TRIED_FULL))
        .count();
    if finished.full {
        eprintln!(
            "dcmask: stopped: the output disk is full; {not_tried} files were not tried. Free some space and run the same command again: finished files are kept, the rest is done then."
        );
    }
    for what in unwritten {
        eprintln!("dcmask: not written: {what}");
    }
    if !args.quiet {
        print_counts(setup, finished, &rates, elapsed);
    }
    if args.json {
        print_json(setup, finished, &rates, elapsed, code)?;
    }
    Ok(ExitCode::from(code))
}

/// Files and bytes this run processed itself (not resumed from an earlier one).
struct Rates {
    resumed: u64,
    processed_bytes: u64,
    processed_files: u64,
}

/// The counts, rates and notes of a run, and where its output and linkage are.
fn print_counts(setup: &Setup, finished: &Finished, rates: &Rates, elapsed: f64) {
    let Finished {
        counts,
        redone,
        unwritten,
        ..
    } = finished;
    let Setup {
        outdir,
        linkage_dir,
        walk_stats,
        ..
    } = setup;
    let Rates {
        resumed,
        processed_bytes,
        processed_files,
    } = *rates;
    eprintln!(
        "dcmask: {} ok, {} failed, {} skipped ({} not DICOM, {} DICOMDIR not copied: regenerate{}) of {} files",
        counts.ok,
        counts.failed,
        counts.skipped,
        counts.skipped_not_dicom,
        counts.dicomdir_not_copied,
        if counts.skipped_duplicate > 0 {
            format!(", {} duplicates", counts.skipped_duplicate)
        } else {
            String::new()
        },
        counts.files,
    );
    eprintln!(
        "dcmask: {:.1} MB in {:.2} s: {:.0} files/s, {:.1} MB/s{}",
        progress::mb(processed_bytes),
        elapsed,
        processed_files as f64 / elapsed.max(1e-9),
        progress::mb(processed_bytes) / elapsed.max(1e-9),
        if resumed > 0 {
            format!(" ({resumed} files already done by an earlier run)")
        } else {
            String::new()
        }
    );
    if counts.dicomdir_regenerated > 0 {
        eprintln!(
            "dcmask: {} DICOMDIR regenerated from the de-identified files",
            counts.dicomdir_regenerated
        );
    }
    if let Some(why) = counts.dicomdir_not_regenerated {
        eprintln!("dcmask: DICOMDIR not regenerated: {why}");
    }
    if counts.pixel_warnings > 0 {
        eprintln!(
            "dcmask: {} files may still carry burned-in text (pixel_warnings in report.json)",
            counts.pixel_warnings
        );
    }
    if *redone > 0 {
        eprintln!(
            "dcmask: {redone} files de-identified again with identifying values of their patient that other files showed"
        );
    }
    if counts.leak_guard_files > 0 {
        eprintln!(
            "dcmask: the leak guard found identifying values the profile kept in {} files, and cleaned them (rule leak-guard in report.json)",
            counts.leak_guard_files
        );
    }
    if counts.incomplete_written > 0 {
        eprintln!(
            "dcmask: {} incomplete files written (--allow-incomplete; `incomplete` in report.json)",
            counts.incomplete_written
        );
    }
    if walk_stats.not_regular + walk_stats.dir_links > 0 {
        eprintln!(
            "dcmask: not read: {} special files, {} links to folders",
            walk_stats.not_regular, walk_stats.dir_links
        );
    }
    eprintln!(
        "dcmask: wrote {} (shareable: the de-identified files{})",
        outdir.display(),
        if unwritten.iter().any(|u| u.contains("report.json")) {
            ", without report.json"
        } else {
            " and report.json"
        }
    );
    eprintln!(
        "dcmask: linkage in {} (mappings, input paths, journal: original identifiers; for the data custodian, never sent with the data)",
        linkage_dir.display()
    );
}

/// One JSON object on stdout (`--json`): the counts, rates, and where things are.
fn print_json(
    setup: &Setup,
    finished: &Finished,
    rates: &Rates,
    elapsed: f64,
    code: u8,
) -> Result<()> {
    let Setup {
        plan,
        key,
        outdir,
        linkage_dir,
        ..
    } = setup;
    let Rates {
        resumed,
        processed_bytes,
        processed_files,
    } = *rates;
    let counts = &finished.counts;
    let summary = serde_json::json!({
        "summary": &counts,
        "resumed": resumed,
        "seconds": elapsed,
        "files_per_second": processed_files as f64 / elapsed.max(1e-9),
        "mb_per_second": progress::mb(processed_bytes) / elapsed.max(1e-9),
        "profile": plan.label(),
        "key_fingerprint": key.fingerprint(),
        "report": outdir.join("report.json"),
        "linkage": linkage_dir,
        "exit_code": code,
    });
    let printed = crate::stdout::write(|out| {
        serde_json::to_writer_pretty(&mut *out, &summary)?;
        writeln!(out)
    });
    // A closed stdout ends quietly; the exit code still tells how the run went.
    match printed {
        Err(e) if e.is::<crate::stdout::Closed>() => {}
        other => other?,
    }
    Ok(())
}

/// Written files whose pixels may carry burned-in text, on stderr, by output path.
fn print_burned_in(files: &[FileReport], count: u64) {
    const SHOWN: usize = 20;
    if count == 0 {
        return;
    }
    eprintln!(
        "dcmask: {count} files written with pixels that may carry burned-in text, not cleaned by this profile (burned_in in report.json; --profile pixel cleans them, --require-clean-pixels refuses them):"
    );
    let listed = files.iter().filter(|f| f.status == Status::Ok);
    for f in listed
        .filter_map(|f| Some((f.output.as_deref()?, f.notes.burned_in.as_deref()?)))
        .take(SHOWN)
    {
        eprintln!("burned-in: {}: {}", f.0, f.1);
    }
    if count as usize > SHOWN {
        eprintln!(
            "burned-in: ... and {} more (see report.json)",
            count as usize - SHOWN
        );
    }
}

/// A path short enough for one terminal line: its start and end, the middle elided.
fn elided(path: &str) -> std::borrow::Cow<'_, str> {
    const HEAD: usize = 80;
    const TAIL: usize = 120;
    let chars: Vec<char> = path.chars().collect();
    if chars.len() <= HEAD + TAIL + 1 {
        return path.into();
    }
    let head: String = chars[..HEAD].iter().collect();
    let tail: String = chars[chars.len() - TAIL..].iter().collect();
    format!("{head}…{tail}").into()
}

/// Failed files, on stderr, by their path relative to the input the user gave.
fn print_failures(files: &[FileReport], inputs: &[PathBuf]) {
    const SHOWN: usize = 20;
    let failed: Vec<&FileReport> = files
        .iter()
        .filter(|f| f.status == Status::Failed)
        .collect();
    for f in failed.iter().take(SHOWN) {
        let base = &inputs[f.root];
        let shown_path = if f.input.is_empty() || base.is_file() {
            base.display().to_string()
        } else {
            base.join(&f.input).display().to_string()
        };
        eprintln!(
            "failed: {}: {}",
            shown(&elided(&shown_path)),
            f.reason.as_deref().unwrap_or("unknown")
        );
    }
    if failed.len() > SHOWN {
        eprintln!(
            "failed: ... and {} more (see report.json, and paths.csv in the linkage folder)",
            failed.len() - SHOWN
        );
    }
}
