//! P9 of the benchmark suite (`bench/run p9`): the coding agent's tools on a 10,000-file
//! repository, excluding the model. Read and edit calls: latency percentiles. Search and list:
//! time beside `rg` / `rg --files` doing the same work in the same run (both scan the whole tree:
//! the pattern matches one line; list covers a 1,000-file directory, under the tool's 2,000-file
//! cap). Prints one JSON object.
//!
//! `cargo run --release -p webedt-worker --example bench_tools [-- DIR]`

use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use webedt_worker::tools::Tools;

const DIRS: usize = 100;
const FILES_PER_DIR: usize = 100;

fn make_repo(root: &Path) {
    for d in 0..DIRS {
        let dir = root.join(format!("src/group_{}/module_{d:03}", d / 10));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..FILES_PER_DIR {
            let mut text = String::with_capacity(2048);
            for l in 0..60 {
                text.push_str(&format!(
                    "pub fn function_{d}_{f}_{l}(value: u64) -> u64 {{ value.wrapping_mul({l}) + {f} }}\n"
                ));
            }
            if d == 57 && f == 42 {
                text.push_str("// NEEDLE_9f3c: the one line the search finds\n");
            }
            std::fs::write(dir.join(format!("file_{f:03}.rs")), text).unwrap();
        }
    }
    std::fs::write(root.join(".gitignore"), "target/\n").unwrap();
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

async fn timed(tools: &Tools, name: &str, input: Value, stop: &CancellationToken) -> Duration {
    let t = Instant::now();
    let out = tools.call(name, Ok(&input), stop).await;
    let took = t.elapsed();
    assert!(!out.is_error, "{name} {input}: {}", out.content);
    took
}

/// Best of `n` runs of `rg` with `args` in `dir`.
fn rg(dir: &Path, args: &[&str], n: usize) -> f64 {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            let out = Command::new("rg")
                .args(args)
                .current_dir(dir)
                .output()
                .expect("rg on PATH");
            assert!(out.status.success(), "rg {args:?}");
            t.elapsed().as_secs_f64() * 1000.0
        })
        .fold(f64::MAX, f64::min)
}

#[tokio::main]
async fn main() {
    let tmp = tempfile::tempdir().unwrap();
    let root = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().join("repo"));
    std::fs::create_dir_all(&root).unwrap();
    make_repo(&root);
    let root = root.canonicalize().unwrap();
    let tools = Tools {
        work: root.clone(),
        git: None,
        commands: None,
    };
    let stop = CancellationToken::new();

    let mut reads = Vec::new();
    let mut edits = Vec::new();
    for i in 0..1000 {
        // Distinct files for distinct calls: the edit always finds its line.
        let (d, f) = (i % DIRS, (i / DIRS * 7) % FILES_PER_DIR);
        let path = format!("src/group_{}/module_{d:03}/file_{f:03}.rs", d / 10);
        reads.push(
            timed(
                &tools,
                "read_file",
                json!({"path": path, "start_line": 10, "end_line": 40}),
                &stop,
            )
            .await,
        );
        let l = 5 + i % 50;
        edits.push(
            timed(
                &tools,
                "edit_file",
                json!({"path": path,
                    "old_str": format!("pub fn function_{d}_{f}_{l}(value"),
                    "new_str": format!("pub fn edited_{i}_{d}_{f}_{l}(value")}),
                &stop,
            )
            .await,
        );
    }
    reads.sort();
    edits.sort();

    let best = |v: Vec<Duration>| v.into_iter().min().unwrap().as_secs_f64() * 1000.0;
    let mut searches = Vec::new();
    let mut lists = Vec::new();
    for _ in 0..7 {
        searches.push(timed(&tools, "search", json!({"pattern": "NEEDLE_9f3c"}), &stop).await);
        lists.push(timed(&tools, "list_files", json!({"path": "src/group_1"}), &stop).await);
    }
    let search_ms = best(searches);
    let list_ms = best(lists);
    let rg_search_ms = rg(&root, &["-n", "NEEDLE_9f3c"], 7);
    let rg_list_ms = rg(&root, &["--files", "src/group_1"], 7);
    let out = json!({
        "files": DIRS * FILES_PER_DIR,
        "read_p50_ms": percentile(&reads, 0.5), "read_p99_ms": percentile(&reads, 0.99),
        "edit_p50_ms": percentile(&edits, 0.5), "edit_p99_ms": percentile(&edits, 0.99),
        "search_ms": search_ms, "rg_search_ms": rg_search_ms, "search_vs_rg": rg_search_ms / search_ms,
        "list_1000_ms": list_ms, "rg_files_1000_ms": rg_list_ms, "list_vs_rg": rg_list_ms / list_ms,
    });
    println!("{out}");
}
