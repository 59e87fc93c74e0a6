//! The real binary with bad configuration: exit code 2 and one line naming the variable.

use std::process::Command;
use webedt_contract::names::*;

fn run(env: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_webedt-api"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run webedt-api");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const GOOD_SECRET: &str = "0123456789abcdef0123456789abcdef";

#[test]
fn each_bad_variable_exits_2_naming_it() {
    let db = ("DATABASE_URL", "postgres://u@127.0.0.1:1/x");
    let secret = ("SESSION_SECRET", GOOD_SECRET);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![db, secret, (DB_POOL_MAX, "ten")], DB_POOL_MAX),
        (
            vec![db, secret, (DB_POOL_MAX, "2"), (DB_POOL_MIN, "5")],
            DB_POOL_MIN,
        ),
        (
            vec![db, secret, (DB_CONNECT_TIMEOUT_MS, "0")],
            DB_CONNECT_TIMEOUT_MS,
        ),
        (
            vec![db, secret, (DB_STATEMENT_TIMEOUT_MS, "0")],
            DB_STATEMENT_TIMEOUT_MS,
        ),
        (
            vec![db, secret, (ORPHAN_SESSION_TIMEOUT_MINUTES, "-1")],
            ORPHAN_SESSION_TIMEOUT_MINUTES,
        ),
        (
            vec![db, secret, (SHUTDOWN_TIMEOUT_MS, "0")],
            SHUTDOWN_TIMEOUT_MS,
        ),
        (vec![db, secret, (PORT, "port")], PORT),
        (vec![db, secret, (LOG_FORMAT, "xml")], LOG_FORMAT),
        (vec![db, ("SESSION_SECRET", "too-short")], SESSION_SECRET),
        (
            vec![db, secret, (CREDENTIALS_KEYS, "k1:c2hvcnRrZXk=")],
            CREDENTIALS_KEYS,
        ),
        (
            vec![db, secret, (CREDENTIALS_KEYS, "no-id")],
            CREDENTIALS_KEYS,
        ),
        (vec![db], SESSION_SECRET),
        (vec![("DATABASE_URL", "mysql://x/y"), secret], DATABASE_URL),
        (
            vec![("DATABASE_URL", "postgres://u@host:notaport/db"), secret],
            DATABASE_URL,
        ),
    ];
    for (env, var) in cases {
        let (code, stderr) = run(&env);
        assert_eq!(code, 2, "{env:?}: {stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line, got: {stderr}");
        assert!(
            lines[0].contains(&format!("{var}: ")),
            "{env:?} should name {var}: {stderr}"
        );
    }
}

#[test]
fn secrets_never_appear_in_the_error() {
    let (code, stderr) = run(&[
        (
            "DATABASE_URL",
            "postgres://user:hunter2hunter2@host:notaport/db",
        ),
        ("SESSION_SECRET", GOOD_SECRET),
    ]);
    assert_eq!(code, 2);
    assert!(!stderr.contains("hunter2"), "{stderr}");
    // A key that is too short is reported by id, never by value.
    let (code, stderr) = run(&[
        ("DATABASE_URL", "postgres://u@127.0.0.1:1/x"),
        ("SESSION_SECRET", GOOD_SECRET),
        (CREDENTIALS_KEYS, "k1:c2hvcnRrZXk="),
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("`k1`"), "{stderr}");
    assert!(!stderr.contains("c2hvcnRrZXk"), "{stderr}");
}

#[test]
fn unknown_commands_exit_2_with_usage() {
    let (code, stderr) = run(&[("DATABASE_URL", "x")]);
    // Bad config is detected for `serve` (the default command) too.
    assert_eq!(code, 2, "{stderr}");
    let out = Command::new(env!("CARGO_BIN_EXE_webedt-api"))
        .arg("frobnicate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: webedt-api"));
}
