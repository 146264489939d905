//! `dcmask`: the workbench server and the batch tool, thin shells over `dcmask-engine`.

mod batch;
mod keystore;
mod ocr;
#[cfg(test)]
mod ocr_tests;
mod pixel_tools;
mod profile_cmd;
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

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DCMASK_LOG")
                .unwrap_or_else(|_| "dcmask=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => server::run(args).map(|()| ExitCode::SUCCESS),
        Command::Anonymize(args) => batch::run(args),
        Command::Profile { action } => profile_cmd::profile(action).map(|()| ExitCode::SUCCESS),
        Command::Inspect(args) => profile_cmd::inspect(args).map(|()| ExitCode::SUCCESS),
        Command::Verify(args) => verify_cmd::run(args),
    };
    result.unwrap_or_else(|e| {
        if e.is::<stdout::Closed>() {
            return ExitCode::SUCCESS;
        }
        eprintln!("dcmask: {e:#}");
        ExitCode::from(2)
    })
}
