//! Compiles `tests/check.c` against the library cargo just built and runs it: linked to the
//! shared library (and under valgrind when it is installed), and to the static library.
//!
//! `cargo test -p rxguard-ffi` builds the library's cdylib and staticlib before running this
//! test; they sit in the profile directory (`target/debug`), the parent of this test binary's
//! own directory (`target/debug/deps`).
#![cfg(unix)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The crate's directory (`ffi/`).
fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The directory holding `name` among the libraries cargo built: the profile directory, else
/// its `deps`.
fn find_library(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let deps = exe.parent().expect("the test binary is in a directory");
    let candidates = [deps.parent(), Some(deps)];
    candidates
        .into_iter()
        .flatten()
        .find(|dir| dir.join(name).is_file())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| {
            panic!(
                "{name} not found next to {} or in its parent: build the crate first \
                 (`cargo test -p rxguard-ffi` does)",
                deps.display()
            )
        })
}

/// Runs a command, returning its output; panics when it cannot be started.
fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("could not run {command:?}: {e}"))
}

fn assert_success(what: &str, command: &Command, output: &Output) {
    assert!(
        output.status.success(),
        "{what} failed ({}): {command:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
}

/// Compiles `tests/check.c` to `out`, with `link_args` after the source file.
fn compile(out: &Path, link_args: &[&OsStr]) {
    let cc = std::env::var_os("CC").unwrap_or_else(|| "cc".into());
    let mut command = Command::new(cc);
    command
        .args([
            "-std=c11",
            "-D_POSIX_C_SOURCE=200809L",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-g",
        ])
        .arg("-I")
        .arg(crate_dir().join("include"))
        .arg(crate_dir().join("tests/check.c"))
        .arg("-o")
        .arg(out)
        .args(link_args);
    let output = run(&mut command);
    assert_success("compiling tests/check.c", &command, &output);
}

/// Whether `program` runs (`program --version` succeeds).
fn available(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn c_program_against_the_shared_library() {
    let name = format!(
        "{}rxguard_ffi{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let dir = find_library(&name);
    let exe = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rxguard-check-shared");
    let mut rpath = std::ffi::OsString::from("-Wl,-rpath,");
    rpath.push(&dir);
    let mut lib_dir = std::ffi::OsString::from("-L");
    lib_dir.push(&dir);
    compile(
        &exe,
        &[
            &lib_dir,
            &rpath,
            OsStr::new("-lrxguard_ffi"),
            OsStr::new("-lpthread"),
        ],
    );

    let mut command = Command::new(&exe);
    let output = run(&mut command);
    assert_success("tests/check.c", &command, &output);
    assert!(String::from_utf8_lossy(&output.stdout).contains("all checks passed"));

    if !available("valgrind") {
        eprintln!("valgrind is not installed: the C program was not run under it");
        return;
    }
    let mut command = Command::new("valgrind");
    command
        .args([
            "--leak-check=full",
            "--error-exitcode=1",
            "--errors-for-leak-kinds=definite,indirect",
            "--show-leak-kinds=definite,indirect",
        ])
        .arg(&exe);
    let output = run(&mut command);
    assert_success("tests/check.c under valgrind", &command, &output);
}

#[cfg(target_os = "linux")]
#[test]
fn c_program_against_the_static_library() {
    let archive = find_library("librxguard_ffi.a").join("librxguard_ffi.a");
    let exe = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rxguard-check-static");
    // What `cargo rustc -- --print native-static-libs` lists for Linux with glibc.
    let mut args: Vec<&OsStr> = vec![archive.as_os_str()];
    args.extend(
        [
            "-lgcc_s",
            "-lutil",
            "-lrt",
            "-lpthread",
            "-lm",
            "-ldl",
            "-lc",
        ]
        .map(OsStr::new),
    );
    compile(&exe, &args);

    let mut command = Command::new(&exe);
    let output = run(&mut command);
    assert_success("tests/check.c, linked statically", &command, &output);
}
