//! The binary builds from Rust alone and links only the C/C++ runtime: no crate of the
//! dependency tree needs cmake, bindgen, pkg-config or a system library, and `ldd` of
//! the release binary lists nothing else. (`cargo run --release -- serve` on a fresh
//! machine with only the Rust toolchain depends on it.)

use std::path::PathBuf;
use std::process::Command;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Build tools and binding generators that mean a crate compiles or finds native code.
const NATIVE_BUILD: [&str; 6] = ["cmake", "bindgen", "pkg-config", "vcpkg", "cc", "autotools"];
/// `links` keys that name no native library: rayon-core declares one only so that two
/// versions of it are never linked together.
const NOT_NATIVE: [&str; 1] = ["rayon-core"];

fn host() -> String {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("rustc runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_string()
}

#[test]
fn no_dependency_needs_a_native_build_or_system_library() {
    let cargo = |args: &[&str]| {
        let out = Command::new(env!("CARGO"))
            .args(args)
            .current_dir(workspace())
            .output()
            .expect("cargo runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    // What the binary needs to build for this machine: normal and build dependencies,
    // transitively (not the tests' dev-dependencies).
    let host = host();
    let tree = cargo(&[
        "tree",
        "-p",
        "dcmask",
        "-e",
        "normal,build",
        "--prefix",
        "none",
        "--locked",
        "--target",
        &host,
        "-f",
        "{p}",
    ]);
    let used: std::collections::HashSet<(String, String)> = tree
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((
                w.next()?.to_string(),
                w.next()?.trim_start_matches('v').to_string(),
            ))
        })
        .collect();
    assert!(
        used.len() > 50,
        "the tree lists the dependencies: {}",
        used.len()
    );
    let meta: serde_json::Value =
        serde_json::from_str(&cargo(&["metadata", "--format-version", "1", "--locked"])).unwrap();
    let mut bad = Vec::new();
    for p in meta["packages"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap().to_string();
        let version = p["version"].as_str().unwrap().to_string();
        if !used.contains(&(name.clone(), version)) {
            continue;
        }
        if NATIVE_BUILD.contains(&name.as_str()) {
            bad.push(format!("{name} (a native build tool)"));
        }
        if let Some(lib) = p["links"].as_str().filter(|l| !NOT_NATIVE.contains(l)) {
            bad.push(format!("{name} (links the native library `{lib}`)"));
        }
    }
    assert!(bad.is_empty(), "crates that need native code: {bad:?}");
}

/// The C and C++ runtime, and the dynamic loader.
const RUNTIME: [&str; 10] = [
    "linux-vdso.so",
    "libc.so",
    "libm.so",
    "libgcc_s.so",
    "libstdc++.so",
    "libpthread.so",
    "libdl.so",
    "librt.so",
    "ld-linux",
    "ld-linux-x86-64.so",
];

#[test]
fn release_binary_links_only_the_c_runtime() {
    let bin = workspace().join("target/release/dcmask");
    if !bin.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{} is missing: scripts/test-all.sh builds it before the tests",
            bin.display()
        );
        eprintln!("skipped: no release build at {}", bin.display());
        return;
    }
    let out = Command::new("ldd").arg(&bin).output().expect("ldd runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8_lossy(&out.stdout);
    let others: Vec<&str> = listed
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .filter(|l| {
            let name = l.split_whitespace().next().unwrap_or("");
            let file = name.rsplit('/').next().unwrap_or(name);
            !RUNTIME.iter().any(|r| file.starts_with(r))
        })
        .collect();
    assert!(
        others.is_empty(),
        "libraries beyond the C/C++ runtime: {others:?}"
    );
}
