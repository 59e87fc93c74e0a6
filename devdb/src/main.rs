//! `webedt-devdb exec -- CMD [ARGS…]`: start a throwaway PostgreSQL, run CMD with `DATABASE_URL`
//! pointing at it, stop and remove the cluster, and exit with CMD's status. The test command
//! uses it so `#[sqlx::test]`-style harnesses find a database before any test code runs.

use std::process::{Command, ExitCode};
use webedt_devdb::{Cluster, ClusterOptions};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cmd: Vec<String> = match args.split_first() {
        Some((verb, rest)) if verb == "exec" => {
            rest.iter().skip_while(|a| *a == "--").cloned().collect()
        }
        _ => Vec::new(),
    };
    let Some((program, program_args)) = cmd.split_first() else {
        eprintln!("usage: webedt-devdb exec -- COMMAND [ARGS...]");
        return ExitCode::from(2);
    };
    let cluster = match Cluster::start(ClusterOptions::ephemeral()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("webedt-devdb: {e}");
            return ExitCode::from(2);
        }
    };
    let url = cluster.url("postgres");
    eprintln!("webedt-devdb: PostgreSQL on {url} for `{}`", cmd.join(" "));
    let mut command = Command::new(program);
    command.args(program_args).env("DATABASE_URL", &url);
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(set_by_cargo_run) {
            command.env_remove(name);
        }
    }
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("webedt-devdb: cannot run {program}: {e}");
            return ExitCode::from(127);
        }
    };
    // Ctrl-C reaches the child through the terminal; we stay alive to stop the cluster after it.
    // SAFETY: setting a signal disposition to SIG_IGN has no preconditions.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
    }
    let status = child.wait();
    drop(cluster);
    match status {
        Ok(s) => ExitCode::from(s.code().unwrap_or(1).clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("webedt-devdb: waiting for {program}: {e}");
            ExitCode::from(1)
        }
    }
}

/// The variables `cargo run` sets for the program it runs (this one), which must not reach a
/// nested `cargo`: build scripts such as ring's watch `CARGO_MANIFEST_DIR` and `CARGO_PKG_*`, so
/// seeing devdb's values would make every switch between `./scripts/test` and a plain
/// `cargo build` rebuild ring and everything above it. Variables a user sets to configure cargo
/// (`CARGO_HOME`, `CARGO_TARGET_DIR`, `CARGO_PROFILE_*`, …) pass through.
fn set_by_cargo_run(name: &str) -> bool {
    matches!(
        name,
        "CARGO"
            | "CARGO_MANIFEST_DIR"
            | "CARGO_MANIFEST_PATH"
            | "CARGO_MANIFEST_LINKS"
            | "CARGO_CRATE_NAME"
            | "CARGO_BIN_NAME"
            | "CARGO_PRIMARY_PACKAGE"
            | "CARGO_TARGET_TMPDIR"
            | "CARGO_RUSTC_CURRENT_DIR"
    ) || name.starts_with("CARGO_PKG_")
        || name.starts_with("CARGO_BIN_EXE_")
}

#[cfg(test)]
mod tests {
    use super::set_by_cargo_run;

    #[test]
    fn only_the_variables_cargo_run_sets_are_stripped() {
        for set in [
            "CARGO",
            "CARGO_MANIFEST_DIR",
            "CARGO_PKG_NAME",
            "CARGO_PKG_VERSION_MAJOR",
            "CARGO_CRATE_NAME",
            "CARGO_BIN_NAME",
            "CARGO_PRIMARY_PACKAGE",
        ] {
            assert!(set_by_cargo_run(set), "{set}");
        }
        for kept in [
            "CARGO_HOME",
            "CARGO_TARGET_DIR",
            "CARGO_PROFILE_DEV_DEBUG",
            "CARGO_INCREMENTAL",
            "CARGO_TERM_COLOR",
            "DATABASE_URL",
            "PATH",
        ] {
            assert!(!set_by_cargo_run(kept), "{kept}");
        }
    }
}
