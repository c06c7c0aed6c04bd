//! Records the git commit the harness is built from (`OSPREY_COMMIT`), for
//! the reports' `osprey.commit`; empty outside a git checkout.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_default();
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    let suffix = if dirty && !commit.is_empty() {
        "-dirty"
    } else {
        ""
    };
    println!("cargo:rustc-env=OSPREY_COMMIT={commit}{suffix}");
    // Built again when HEAD moves (a commit, a checkout) or the branch's ref does.
    for path in ["HEAD", "logs/HEAD"] {
        if let Some(p) = git(&["rev-parse", "--git-path", path]) {
            println!("cargo:rerun-if-changed={p}");
        }
    }
}
