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
    let mut child = match Command::new(program)
        .args(program_args)
        .env("DATABASE_URL", &url)
        .spawn()
    {
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
