//! File tools: list, read, write, edit, search. Every path goes through [`paths::resolve`].

use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::ToolOutcome;
use crate::paths::{display, resolve};

const LIST_MAX: usize = 2000;
const READ_MAX_BYTES: u64 = 4 * 1024 * 1024;
const SEARCH_MAX_MATCHES: usize = 200;
const SEARCH_FILE_MAX: u64 = 1024 * 1024;
const WRITE_MAX: usize = 4 * 1024 * 1024;

fn string<'a>(input: &'a Value, key: &str) -> Result<&'a str, String> {
    match &input[key] {
        Value::String(s) => Ok(s),
        Value::Null => Err(format!("missing `{key}` (a string)")),
        _ => Err(format!("`{key}` must be a string")),
    }
}

/// An optional `path` argument, resolved; `None` when absent.
pub fn opt_path(work: &Path, input: &Value) -> Result<Option<String>, String> {
    match &input["path"] {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() || s.trim() == "." => Ok(None),
        Value::String(s) => {
            let p = resolve(work, s)?;
            Ok(Some(display(work, &p)))
        }
        _ => Err("`path` must be a string".into()),
    }
}

fn walker(root: &Path) -> ignore::Walk {
    ignore::WalkBuilder::new(root)
        .hidden(false)
        .git_ignore(true)
        .git_exclude(false)
        .git_global(false)
        .require_git(false)
        .follow_links(false)
        .sort_by_file_name(|a, b| a.cmp(b))
        .filter_entry(|e| e.file_name() != ".git")
        .build()
}

pub fn list(work: &Path, input: &Value) -> ToolOutcome {
    let dir = match &input["path"] {
        Value::Null => work.to_path_buf(),
        Value::String(s) => match resolve(work, s) {
            Ok(p) => p,
            Err(e) => return ToolOutcome::err(e),
        },
        _ => return ToolOutcome::err("`path` must be a string"),
    };
    if !dir.is_dir() {
        return ToolOutcome::err(format!("`{}` is not a directory", display(work, &dir)));
    }
    let mut out = String::new();
    let mut n = 0;
    for entry in walker(&dir).flatten() {
        if entry.file_type().is_some_and(|t| t.is_dir()) {
            continue;
        }
        n += 1;
        if n > LIST_MAX {
            let _ = writeln!(out, "[... more files not listed ...]");
            break;
        }
        let _ = writeln!(out, "{}", display(work, entry.path()));
    }
    if out.is_empty() {
        out.push_str("(no files)");
    }
    ToolOutcome::ok(out)
}

pub fn read(work: &Path, input: &Value) -> ToolOutcome {
    let path = match string(input, "path").and_then(|p| resolve(work, p)) {
        Ok(p) => p,
        Err(e) => return ToolOutcome::err(e),
    };
    let line_arg = |k: &str| match &input[k] {
        Value::Null => Ok(None),
        v => v
            .as_u64()
            .filter(|n| *n >= 1)
            .map(|n| Some(n as usize))
            .ok_or_else(|| format!("`{k}` must be a whole number >= 1")),
    };
    let (start, end) = match (line_arg("start_line"), line_arg("end_line")) {
        (Ok(s), Ok(e)) => (s.unwrap_or(1), e),
        (Err(e), _) | (_, Err(e)) => return ToolOutcome::err(e),
    };
    let rel = display(work, &path);
    match std::fs::metadata(&path) {
        Err(_) => return ToolOutcome::err(format!("`{rel}` does not exist")),
        Ok(m) if m.is_dir() => {
            return ToolOutcome::err(format!("`{rel}` is a directory; use list_files"));
        }
        Ok(m) if m.len() > READ_MAX_BYTES => {
            return ToolOutcome::err(format!("`{rel}` is too large to read ({} bytes)", m.len()));
        }
        Ok(_) => {}
    }
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => return ToolOutcome::err(format!("cannot read `{rel}`: {e}")),
    };
    let Ok(text) = String::from_utf8(bytes) else {
        return ToolOutcome::err(format!("`{rel}` is not UTF-8 text"));
    };
    let mut out = String::new();
    let total = text.lines().count();
    for (i, line) in text.lines().enumerate().skip(start - 1) {
        if end.is_some_and(|e| i + 1 > e) {
            break;
        }
        let _ = writeln!(out, "{:6}\t{line}", i + 1);
    }
    if out.is_empty() {
        if total == 0 {
            return ToolOutcome::ok(format!("(`{rel}` is empty)"));
        }
        return ToolOutcome::err(format!("`{rel}` has only {total} lines"));
    }
    ToolOutcome::ok(out)
}

fn write_bytes(path: &PathBuf, content: &str) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("cannot create the directory: {e}"))?;
    }
    std::fs::write(path, content).map_err(|e| format!("cannot write: {e}"))
}

pub fn write(work: &Path, input: &Value) -> ToolOutcome {
    let (path, content) = match (
        string(input, "path").and_then(|p| resolve(work, p)),
        string(input, "content"),
    ) {
        (Ok(p), Ok(c)) => (p, c),
        (Err(e), _) | (_, Err(e)) => return ToolOutcome::err(e),
    };
    let rel = display(work, &path);
    if rel.is_empty() || path.is_dir() {
        return ToolOutcome::err(format!("`{rel}` is a directory"));
    }
    if content.len() > WRITE_MAX {
        return ToolOutcome::err(format!("the content is larger than {WRITE_MAX} bytes"));
    }
    let existed = path.exists();
    match write_bytes(&path, content) {
        Ok(()) => ToolOutcome::ok(format!(
            "{} `{rel}` ({} lines)",
            if existed { "Overwrote" } else { "Created" },
            content.lines().count()
        )),
        Err(e) => ToolOutcome::err(format!("`{rel}`: {e}")),
    }
}

pub fn edit(work: &Path, input: &Value) -> ToolOutcome {
    let args = (|| {
        Ok::<_, String>((
            resolve(work, string(input, "path")?)?,
            string(input, "old_str")?,
            string(input, "new_str")?,
        ))
    })();
    let (path, old, new) = match args {
        Ok(a) => a,
        Err(e) => return ToolOutcome::err(e),
    };
    let rel = display(work, &path);
    if old.is_empty() {
        return ToolOutcome::err("`old_str` must not be empty; use write_file to create a file");
    }
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => return ToolOutcome::err(format!("cannot read `{rel}`: {e}")),
    };
    let count = text.matches(old).count();
    if count == 0 {
        return ToolOutcome::err(format!(
            "No replacement was performed: old_str did not appear verbatim in `{rel}`."
        ));
    }
    if count > 1 {
        return ToolOutcome::err(format!(
            "No replacement was performed: old_str appears {count} times in `{rel}`; include more context so it is unique."
        ));
    }
    let at = text.find(old).expect("counted once");
    let updated = format!("{}{new}{}", &text[..at], &text[at + old.len()..]);
    if let Err(e) = write_bytes(&path, &updated) {
        return ToolOutcome::err(format!("`{rel}`: {e}"));
    }
    let line = text[..at].lines().count().max(1);
    ToolOutcome::ok(format!("Edited `{rel}` at line {line}."))
}

pub fn search(work: &Path, input: &Value) -> ToolOutcome {
    let pattern = match string(input, "pattern") {
        Ok(p) => p,
        Err(e) => return ToolOutcome::err(e),
    };
    let re = match regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
    {
        Ok(r) => r,
        Err(e) => return ToolOutcome::err(format!("invalid regular expression: {e}")),
    };
    // The same pattern over a whole file, `^`/`$` at line ends (LF or CRLF): it matches a file
    // whenever it matches one of its lines. `\A`/`\z` mean the line's ends to the model, so
    // such patterns skip this filter.
    let whole = (!pattern.contains("\\A") && !pattern.contains("\\z"))
        .then(|| {
            regex::RegexBuilder::new(pattern)
                .size_limit(1 << 20)
                .multi_line(true)
                .crlf(true)
                .build()
                .ok()
        })
        .flatten();
    let start = match &input["path"] {
        Value::Null => work.to_path_buf(),
        Value::String(s) => match resolve(work, s) {
            Ok(p) => p,
            Err(e) => return ToolOutcome::err(e),
        },
        _ => return ToolOutcome::err("`path` must be a string"),
    };
    let mut out = String::new();
    let mut matches = 0;
    'files: for entry in walker(&start).flatten() {
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        if entry
            .metadata()
            .map(|m| m.len() > SEARCH_FILE_MAX)
            .unwrap_or(true)
        {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(entry.path()) else {
            continue; // binary or unreadable
        };
        // One pass over the whole file first: most files have no match, and a line-by-line
        // scan of each would cost several times as much.
        if whole.as_ref().is_some_and(|w| !w.is_match(&text)) {
            continue;
        }
        let rel = display(work, entry.path());
        for (i, line) in text.lines().enumerate() {
            if re.is_match(line) {
                matches += 1;
                if matches > SEARCH_MAX_MATCHES {
                    let _ = writeln!(out, "[... more matches not shown ...]");
                    break 'files;
                }
                let shown: String = line.chars().take(300).collect();
                let _ = writeln!(out, "{rel}:{}: {shown}", i + 1);
            }
        }
    }
    if out.is_empty() {
        out.push_str("(no matches)");
    }
    ToolOutcome::ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn work() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().canonicalize().unwrap();
        std::fs::write(work.join(".gitignore"), "target/\n").unwrap();
        std::fs::create_dir_all(work.join("target")).unwrap();
        std::fs::write(work.join("target/big.o"), "x").unwrap();
        std::fs::create_dir_all(work.join("src")).unwrap();
        std::fs::write(work.join("src/a.rs"), "fn a() {}\nfn b() {}\nfn a2() {}\n").unwrap();
        (dir, work)
    }

    #[test]
    fn list_honours_gitignore_and_read_numbers_lines() {
        let (_d, w) = work();
        let l = list(&w, &json!({}));
        assert!(
            l.content.contains("src/a.rs") && !l.content.contains("big.o"),
            "{}",
            l.content
        );
        let r = read(
            &w,
            &json!({"path": "src/a.rs", "start_line": 2, "end_line": 2}),
        );
        assert_eq!(r.content, "     2\tfn b() {}\n");
        assert!(read(&w, &json!({"path": "src/a.rs", "start_line": 0})).is_error);
        assert!(read(&w, &json!({"path": 3})).is_error);
        assert!(read(&w, &json!({"path": "../x"})).is_error);
    }

    #[test]
    fn edit_needs_a_unique_exact_match() {
        let (_d, w) = work();
        assert!(
            edit(
                &w,
                &json!({"path": "src/a.rs", "old_str": "fn a", "new_str": "x"})
            )
            .is_error
        );
        assert!(
            edit(
                &w,
                &json!({"path": "src/a.rs", "old_str": "nope", "new_str": "x"})
            )
            .is_error
        );
        let ok = edit(
            &w,
            &json!({"path": "src/a.rs", "old_str": "fn b()", "new_str": "fn bee()"}),
        );
        assert!(!ok.is_error, "{}", ok.content);
        assert!(
            std::fs::read_to_string(w.join("src/a.rs"))
                .unwrap()
                .contains("fn bee()")
        );
        let s = search(&w, &json!({"pattern": "fn a\\d"}));
        assert_eq!(s.content, "src/a.rs:3: fn a2() {}\n");
        assert!(search(&w, &json!({"pattern": "("})).is_error);
        assert!(!write(&w, &json!({"path": "new/dir/f.txt", "content": "hi"})).is_error);
        assert!(write(&w, &json!({"path": ".git/config", "content": "hi"})).is_error);
    }

    #[test]
    fn search_anchors_match_each_line_with_lf_or_crlf() {
        let (_t, w) = work();
        std::fs::write(w.join("crlf.txt"), "first\r\nsecond line\r\nthird\r\n").unwrap();
        // `^`/`$` are a line's ends, not the file's, whichever line ending it uses.
        let s = search(&w, &json!({"pattern": "^second line$"}));
        assert_eq!(s.content, "crlf.txt:2: second line\n");
        let s = search(&w, &json!({"pattern": "^fn b\\(\\) \\{\\}$"}));
        assert_eq!(s.content, "src/a.rs:2: fn b() {}\n");
        let s = search(&w, &json!({"pattern": "\\Athird\\z"}));
        assert_eq!(s.content, "crlf.txt:3: third\n");
    }
}
