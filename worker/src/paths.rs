//! Every path a model names is confined to the run's checkout: relative, no `..`, nothing under
//! `.git`, and no symlink on the way that leads out of the checkout.

use std::path::{Component, Path, PathBuf};

/// Resolves `rel` inside `work` (the checkout; canonical). `""` and `"."` are the checkout itself.
pub fn resolve(work: &Path, rel: &str) -> Result<PathBuf, String> {
    if rel.contains('\0') {
        return Err("the path contains a NUL byte".into());
    }
    let rel = rel.trim();
    let mut out = work.to_path_buf();
    for c in Path::new(rel).components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(format!(
                    "`{rel}`: `..` is not allowed; use paths relative to the repository root"
                ));
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!(
                    "`{rel}`: absolute paths are not allowed; use paths relative to the repository root"
                ));
            }
            Component::Normal(name) => {
                if name == ".git" {
                    return Err(format!("`{rel}`: the .git directory is off limits"));
                }
                out.push(name);
                if let Ok(meta) = std::fs::symlink_metadata(&out)
                    && meta.file_type().is_symlink()
                {
                    match out.canonicalize() {
                        Ok(target) if target.starts_with(work) => {
                            let inner = target.strip_prefix(work).unwrap_or(&target);
                            if inner.components().any(|c| c.as_os_str() == ".git") {
                                return Err(format!("`{rel}`: the .git directory is off limits"));
                            }
                        }
                        _ => {
                            return Err(format!(
                                "`{rel}`: a symbolic link on this path leads outside the repository"
                            ));
                        }
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The path relative to the checkout, for messages and listings.
pub fn display(work: &Path, p: &Path) -> String {
    p.strip_prefix(work)
        .map(|r| r.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().canonicalize().unwrap();
        std::fs::create_dir(work.join("src")).unwrap();
        std::os::unix::fs::symlink("/etc", work.join("out")).unwrap();
        std::os::unix::fs::symlink("src", work.join("in")).unwrap();
        std::os::unix::fs::symlink("/nonexistent/x", work.join("dangling")).unwrap();
        assert_eq!(resolve(&work, "src/a.rs").unwrap(), work.join("src/a.rs"));
        assert_eq!(resolve(&work, "./src/").unwrap(), work.join("src"));
        assert_eq!(resolve(&work, "").unwrap(), work);
        assert!(resolve(&work, "in/a.rs").is_ok());
        for bad in [
            "../x",
            "src/../../x",
            "/etc/passwd",
            "out/passwd",
            "dangling",
            ".git/config",
            "src/.git/x",
        ] {
            assert!(resolve(&work, bad).is_err(), "{bad}");
        }
    }
}
