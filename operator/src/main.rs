//! `webedt-operator` command line.
//!
//! - `crd`: print the CustomResourceDefinition (one YAML document).
//! - `render -f FILE`: print every object the operator would create for the WebEDTs in FILE,
//!   offline.
//!
//! The controller (`run`) joins as a third subcommand in part 2.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use webedt_operator::render;

#[derive(Parser)]
#[command(
    name = "webedt-operator",
    version,
    about = "Kubernetes operator for WebEDT"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the WebEDT CustomResourceDefinition as YAML.
    Crd,
    /// Print, as multi-document YAML, the objects the operator would create for the WebEDTs in
    /// a file (other documents are skipped). Offline: cluster-only values are placeholders.
    Render {
        /// Multi-document YAML file; `-` reads standard input.
        #[arg(short = 'f', long = "filename")]
        file: PathBuf,
    },
    // `Run` (the controller) is added in part 2.
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Crd => {
            print!("{}", render::crd_yaml());
            ExitCode::SUCCESS
        }
        Command::Render { file } => match render_file(&file) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error ({}): {e}", e.reason());
                ExitCode::FAILURE
            }
        },
    }
}

fn render_file(file: &PathBuf) -> webedt_operator::Result<()> {
    let path = file.display().to_string();
    let input = if path == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(file)
    }
    .map_err(|source| webedt_operator::Error::ReadInput {
        path: path.clone(),
        source,
    })?;
    let rendered = render::render(&input, &path)?;
    for (name, finding) in &rendered.findings {
        eprintln!(
            "warning ({}): {name}: {}",
            finding.reason(),
            finding.message()
        );
    }
    print!("{}", rendered.yaml);
    Ok(())
}
