//! `dcmask`: the workbench server and the batch tool, thin shells over `dcmask-engine`.

mod audit;
mod batch;
mod keystore;
mod ocr;
#[cfg(test)]
mod ocr_tests;
mod pixel_tools;
mod profile_cmd;
mod report_cmd;
mod risk_cmd;
mod server;
mod stdout;
mod verify_cmd;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "dcmask",
    version,
    about = "DICOM de-identification workbench and batch tool"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the local workbench web app.
    Serve(server::ServeArgs),
    /// De-identify files and folders into an output folder.
    Anonymize(batch::AnonymizeArgs),
    /// List, show or export the built-in profiles.
    Profile {
        #[command(subcommand)]
        action: profile_cmd::ProfileAction,
    },
    /// Show what a profile would do to a file, without writing anything.
    Inspect(profile_cmd::InspectArgs),
    /// Check a de-identified folder for identifying values of the originals.
    Verify(verify_cmd::VerifyArgs),
    /// Measure the re-identification risk of a folder of DICOM files (k-anonymity).
    Risk(risk_cmd::RiskArgs),
    /// The determination report of a batch output folder (HTML to print and sign, or JSON).
    Report(report_cmd::ReportArgs),
    /// Check an audit log: no entry changed, removed or reordered.
    Audit(audit::AuditArgs),
}

/// Where dcmask keeps its key when no `--key-file` is given.
pub fn data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("DCMASK_DATA_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_DATA_HOME") {
        return PathBuf::from(d).join("dcmask");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| ".".into());
    home.join(".local/share/dcmask")
}

/// What a file that hit a bug is reported with (a panic's own message is never shown).
pub const INTERNAL_ERROR: &str = "internal error while de-identifying (a bug; please report it)";

/// Panics print where they happened, never their message: a message can quote data (a
/// string sliced out of range shows the string) and stderr ends up in logs. Where a
/// panic is caught (one file of a batch) the work goes on; a pixel decoder's panic on
/// damaged pixel data is that file's error, not a bug of dcmask, and is only logged.
fn panics_without_payloads() {
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        if dcmask_engine::pixel::decode::isolating() {
            tracing::debug!("pixel decoder panicked{at}");
        } else {
            eprintln!("dcmask: internal error{at} (a bug; please report it)");
        }
    }));
}

fn main() -> ExitCode {
    panics_without_payloads();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DCMASK_LOG")
                .unwrap_or_else(|_| "dcmask=info".into()),
        )
        .with_writer(std::io::stderr)
        // Colours only for a terminal: a log file or a pipe gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => server::run(args).map(|()| ExitCode::SUCCESS),
        Command::Anonymize(args) => batch::run(args),
        Command::Profile { action } => profile_cmd::profile(action).map(|()| ExitCode::SUCCESS),
        Command::Inspect(args) => profile_cmd::inspect(args).map(|()| ExitCode::SUCCESS),
        Command::Verify(args) => verify_cmd::run(args),
        Command::Risk(args) => risk_cmd::run(args),
        Command::Report(args) => report_cmd::run(args),
        Command::Audit(args) => audit::run(args),
    };
    result.unwrap_or_else(|e| {
        if e.is::<stdout::Closed>() {
            return ExitCode::SUCCESS;
        }
        eprintln!("dcmask: {e:#}");
        ExitCode::from(2)
    })
}
