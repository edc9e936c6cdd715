//! The C ABI of rxguard: compile rule packs once, then check patient records given as JSON and
//! get each report back as JSON.
//!
//! The header is `include/rxguard.h`, generated from this file by cbindgen (see `build.rs`); the
//! README beside it says who frees what, how threads may share an engine and how to link.
//!
//! Every function here catches panics (`std::panic::catch_unwind`) and turns them into an error
//! return, so no unwinding ever crosses into C; a NULL pointer or a string that is not UTF-8 is
//! an error return too, never a crash.

use rxguard_core::Engine;
use rxguard_core::date::Date;
use rxguard_core::eval::Scratch;
use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

/// A compiled set of rule packs, opaque to C.
///
/// Immutable once built: one engine may be used from any number of threads at once
/// (`rxguard_check` only reads it). Free it with `rxguard_engine_free` once no thread uses it.
pub struct RxEngine {
    engine: Engine,
}

// The engine is shared across threads by C callers: it must be `Send + Sync`.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<RxEngine>();
};

/// One rule pack for `rxguard_engine_from_packs`: a name shown in diagnostics (a file name,
/// say) and the pack's text, both NUL-terminated UTF-8. rxguard copies both; the caller keeps
/// ownership of its strings.
#[repr(C)]
pub struct RxPack {
    /// The pack's name, shown in diagnostics.
    pub name: *const c_char,
    /// The pack's text, in the rule language.
    pub text: *const c_char,
}

/// The version of rxguard, as `MAJOR.MINOR.PATCH`.
const VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(version) => version,
        Err(_) => panic!("the version contains a NUL byte"),
    };

/// Compiles rule packs into an engine.
///
/// `packs` points to `count` packs (it may be NULL when `count` is 0). On success returns the
/// engine (free it with `rxguard_engine_free`) and sets `*diagnostics_json` to NULL. On failure
/// returns NULL and sets `*diagnostics_json` to the diagnostics as JSON lines, one object per
/// line (`code`, `level`, `message`, `file`, `line`, `column`, `end_line`, `end_column`, and
/// `label`, `help` when present); when the arguments themselves are wrong (a NULL pointer, text
/// that is not UTF-8) or on an internal error, it is one line `{"error": "..."}` instead. Free
/// that string with `rxguard_string_free`. `diagnostics_json` may be NULL when the caller does
/// not want them.
///
/// # Safety
///
/// `packs` must be NULL or point to `count` readable `RxPack`s, each `name` and `text` NULL or
/// a NUL-terminated string, all valid for the duration of the call. `diagnostics_json` must be
/// NULL or valid for writing one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rxguard_engine_from_packs(
    packs: *const RxPack,
    count: usize,
    diagnostics_json: *mut *mut c_char,
) -> *mut RxEngine {
    let result = catch(|| {
        // SAFETY: the caller's guarantees on `packs` and `count`, passed on.
        let sources = unsafe { pack_sources(packs, count) }?;
        Engine::from_sources(sources)
            .map_err(|diagnostics| Failure::Diagnostics(diagnostics.render_json_lines()))
    });
    // SAFETY: the caller guarantees `diagnostics_json` is NULL or valid for writing a pointer.
    unsafe { engine_or_diagnostics(result, diagnostics_json) }
}

/// The packs of a C array, copied.
///
/// # Safety
///
/// `packs` must be NULL or point to `count` readable `RxPack`s whose strings are NULL or
/// NUL-terminated, valid for the call.
unsafe fn pack_sources(
    packs: *const RxPack,
    count: usize,
) -> Result<Vec<(String, String)>, Failure> {
    let packs: &[RxPack] = if count == 0 {
        &[]
    } else if packs.is_null() {
        return Err(Failure::Argument(format!(
            "packs is NULL but count is {count}"
        )));
    } else {
        // SAFETY: non-NULL, and the caller guarantees it points to `count` readable packs
        // that stay valid for the call.
        unsafe { std::slice::from_raw_parts(packs, count) }
    };
    let mut sources = Vec::with_capacity(packs.len());
    for (i, pack) in packs.iter().enumerate() {
        // SAFETY: the caller guarantees each pointer is NULL or a NUL-terminated string
        // valid for the call; `str_arg` checks for NULL.
        let name = unsafe { str_arg(pack.name, || format!("packs[{i}].name")) }?;
        // SAFETY: as above.
        let text = unsafe { str_arg(pack.text, || format!("packs[{i}].text")) }?;
        sources.push((name.to_owned(), text.to_owned()));
    }
    Ok(sources)
}

/// The engine handed to C, or NULL with the diagnostics or the error written out.
///
/// # Safety
///
/// `diagnostics_json` must be NULL or valid for writing one pointer.
unsafe fn engine_or_diagnostics(
    result: Result<Engine, Failure>,
    diagnostics_json: *mut *mut c_char,
) -> *mut RxEngine {
    let (engine, diagnostics) = match result {
        Ok(engine) => (Box::into_raw(Box::new(RxEngine { engine })), None),
        Err(Failure::Diagnostics(lines)) => (ptr::null_mut(), Some(lines)),
        Err(Failure::Argument(message) | Failure::Panic(message)) => {
            let mut line = error_json(&message);
            line.push('\n');
            (ptr::null_mut(), Some(line))
        }
    };
    // SAFETY: the caller guarantees `diagnostics_json` is NULL or valid for writing a pointer.
    unsafe { set_out(diagnostics_json, diagnostics) };
    engine
}

/// Site settings for `rxguard_engine_build`. Every field may be NULL: that setting is then not
/// used. rxguard reads both during the call and keeps nothing of the caller's.
#[repr(C)]
pub struct RxOptions {
    /// A site profile, as the text of its TOML file (rules disabled or re-graded, status
    /// settings; see the project's docs).
    pub profile_toml: *const c_char,
    /// The path of a site's RxNorm relation table: RxNorm's `RXNREL.RRF`, or a CSV of
    /// `descendant_rxcui,ingredient_rxcui` rows (an OMOP `concept_ancestor` export). Clinical
    /// and branded drug codes then resolve to their ingredients.
    pub rxnorm_path: *const c_char,
}

/// Compiles rule packs with a site's settings into an engine.
///
/// `packs` and `count` as for `rxguard_engine_from_packs`, except that `packs` NULL with `count`
/// 0 means the packs bundled with rxguard. `options` may be NULL (no profile, no relation
/// table). Returns the engine and sets `*diagnostics_json` to NULL, or returns NULL and sets it
/// to JSON lines: the packs' diagnostics, or one line `{"error": "..."}` naming what is wrong
/// with an argument, the profile or the relation table (its faulty lines, or why the file cannot
/// be read).
///
/// # Safety
///
/// As for `rxguard_engine_from_packs`; `options` must be NULL or point to a readable
/// `RxOptions` whose fields are NULL or NUL-terminated strings valid for the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rxguard_engine_build(
    packs: *const RxPack,
    count: usize,
    options: *const RxOptions,
    diagnostics_json: *mut *mut c_char,
) -> *mut RxEngine {
    let result = catch(|| {
        let mut builder = Engine::builder();
        if !(packs.is_null() && count == 0) {
            // SAFETY: the caller's guarantees on `packs` and `count`, passed on.
            builder = builder.packs(unsafe { pack_sources(packs, count) }?);
        }
        // SAFETY: the caller guarantees `options` is NULL or readable for the call.
        if let Some(options) = unsafe { options.as_ref() } {
            if !options.profile_toml.is_null() {
                // SAFETY: non-NULL, a NUL-terminated string valid for the call.
                let text = unsafe { str_arg(options.profile_toml, || "profile_toml".into()) }?;
                let profile = rxguard_core::profile::Profile::parse(text)
                    .map_err(|e| Failure::Argument(e.to_string()))?;
                builder = builder.profile(profile);
            }
            if !options.rxnorm_path.is_null() {
                // SAFETY: as above.
                let path = unsafe { str_arg(options.rxnorm_path, || "rxnorm_path".into()) }?;
                let table =
                    rxguard_core::patient::RxnormRelations::from_path(std::path::Path::new(path))
                        .map_err(|e| Failure::Argument(format!("{path}: {e}")))?;
                builder = builder.rxnorm(table);
            }
        }
        builder.build().map_err(|e| match e {
            rxguard_core::engine::BuildError::Packs(d) => {
                Failure::Diagnostics(d.render_json_lines())
            }
            rxguard_core::engine::BuildError::Profile(e) => Failure::Argument(e.to_string()),
        })
    });
    // SAFETY: the caller guarantees `diagnostics_json` is NULL or valid for writing a pointer.
    unsafe { engine_or_diagnostics(result, diagnostics_json) }
}

/// Compiles the rule packs bundled with rxguard (CNS depressants, epilepsy, older adults,
/// baclofen). Returns NULL only on an internal error. Free the engine with
/// `rxguard_engine_free`.
#[unsafe(no_mangle)]
pub extern "C" fn rxguard_engine_bundled() -> *mut RxEngine {
    match catch(|| Engine::bundled().map_err(|d| Failure::Diagnostics(d.render_plain()))) {
        Ok(engine) => Box::into_raw(Box::new(RxEngine { engine })),
        Err(_) => ptr::null_mut(),
    }
}

/// Checks one patient record at the date `as_of` (`YYYY-MM-DD`; NULL means today, in UTC): a
/// record of rxguard's JSON patient format (`docs/patients.md`), or a FHIR R4 Bundle (told by
/// its `resourceType`).
///
/// Returns the report as a JSON object (`patient`, `as_of`, `findings`, `data_gaps`,
/// `unrecognized`, `notes`, `superseded`) and sets `*error` to NULL. When the record cannot be
/// read, the date is not a date, an argument is NULL or not UTF-8, or on an internal error,
/// returns NULL and sets `*error` to a JSON object `{"error": "..."}`. Free either string with
/// `rxguard_string_free`. `error` may be NULL when the caller does not want the message.
///
/// Thread safety: any number of threads may check with one engine at the same time.
///
/// # Safety
///
/// `engine` must be NULL or an engine from this library not yet freed; `patient_json` and
/// `as_of` must be NULL or NUL-terminated strings, valid for the call; `error` must be NULL or
/// valid for writing one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rxguard_check(
    engine: *const RxEngine,
    patient_json: *const c_char,
    as_of: *const c_char,
    error: *mut *mut c_char,
) -> *mut c_char {
    let result = catch(|| {
        if engine.is_null() {
            return Err(Failure::Argument("engine is NULL".into()));
        }
        // SAFETY: non-NULL, and the caller guarantees it is a live engine from this library;
        // the engine is immutable and `Sync`, so shared references from many threads are fine.
        let engine = unsafe { &*engine };
        // SAFETY: the caller guarantees a NUL-terminated string valid for the call, or NULL.
        let json = unsafe { str_arg(patient_json, || "patient_json".into()) }?;
        let as_of = if as_of.is_null() {
            Date::today()
        } else {
            // SAFETY: as above.
            let text = unsafe { str_arg(as_of, || "as_of".into()) }?;
            Date::parse(text).ok_or_else(|| {
                Failure::Argument(format!("as_of {text:?} is not a date: expected YYYY-MM-DD"))
            })?
        };
        let report = with_scratch(|scratch| {
            engine
                .engine
                .check_record(scratch, json, as_of, rxguard_core::engine::InputKind::Auto)
        })
        .map_err(|e| Failure::Argument(format!("invalid patient record: {e}")))?;
        serde_json::to_string(&report)
            .map_err(|e| Failure::Argument(format!("the report could not be serialised: {e}")))
    });
    let (report, message) = match result {
        Ok(report) => (into_c_string(report), None),
        Err(Failure::Argument(message) | Failure::Panic(message)) => {
            (ptr::null_mut(), Some(error_json(&message)))
        }
        Err(Failure::Diagnostics(text)) => (ptr::null_mut(), Some(error_json(&text))),
    };
    // SAFETY: the caller guarantees `error` is NULL or valid for writing a pointer.
    unsafe { set_out(error, message) };
    report
}

/// Frees a string returned by this library (a report, an error, diagnostics). NULL is ignored.
/// Never pass it a string from anywhere else, nor `rxguard_version()`.
///
/// # Safety
///
/// `string` must be NULL or a string returned by this library and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rxguard_string_free(string: *mut c_char) {
    if string.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the caller guarantees it came from `CString::into_raw` in this library and
        // was not freed yet.
        drop(unsafe { CString::from_raw(string) });
    }));
}

/// Frees an engine. NULL is ignored. No thread may be using the engine.
///
/// # Safety
///
/// `engine` must be NULL or an engine from this library, not yet freed and no longer in use.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rxguard_engine_free(engine: *mut RxEngine) {
    if engine.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the caller guarantees it came from `Box::into_raw` in this library, was not
        // freed yet and is no longer used by any thread.
        drop(unsafe { Box::from_raw(engine) });
    }));
}

/// The version of rxguard (`MAJOR.MINOR.PATCH`): a static string, never freed.
#[unsafe(no_mangle)]
pub extern "C" fn rxguard_version() -> *const c_char {
    VERSION.as_ptr()
}

/// Why a call failed.
enum Failure {
    /// The packs do not compile: their diagnostics, as text.
    Diagnostics(String),
    /// An argument is wrong (NULL, not UTF-8, not a record, not a date).
    Argument(String),
    /// rxguard panicked: a bug, reported as an error instead of crossing into C.
    Panic(String),
}

/// Runs `f`, turning a panic into [`Failure::Panic`].
fn catch<T>(f: impl FnOnce() -> Result<T, Failure>) -> Result<T, Failure> {
    // `AssertUnwindSafe`: after a panic nothing `f` touched is used again, except this thread's
    // scratch memory, which is reset below; the engine is only ever read.
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        reset_scratch();
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".into());
        // A payload whose destructor panics would unwind from here: leak it instead.
        std::mem::forget(payload);
        Err(Failure::Panic(format!("internal error in rxguard: {what}")))
    })
}

/// Reads a C string argument.
///
/// # Safety
///
/// `ptr` must be NULL or a NUL-terminated string valid for `'a`.
unsafe fn str_arg<'a>(
    ptr: *const c_char,
    what: impl FnOnce() -> String,
) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        return Err(Failure::Argument(format!("{} is NULL", what())));
    }
    // SAFETY: non-NULL, and the caller guarantees a NUL-terminated string valid for `'a`.
    let c = unsafe { CStr::from_ptr(ptr) };
    c.to_str()
        .map_err(|e| Failure::Argument(format!("{} is not valid UTF-8: {e}", what())))
}

/// Writes `value` (as a string the caller frees) or NULL to an out-parameter, if given one.
///
/// # Safety
///
/// `out` must be NULL or valid for writing one pointer.
unsafe fn set_out(out: *mut *mut c_char, value: Option<String>) {
    if out.is_null() {
        return;
    }
    let value = value.map_or(ptr::null_mut(), into_c_string);
    // SAFETY: non-NULL, and the caller guarantees it is valid for writing a pointer.
    unsafe { out.write(value) };
}

/// A string handed to C, freed by `rxguard_string_free`.
fn into_c_string(text: String) -> *mut c_char {
    // JSON from serde_json never holds a NUL byte (it escapes control characters); replace any
    // all the same rather than fail.
    CString::new(text)
        .unwrap_or_else(|e| {
            let text = String::from_utf8_lossy(&e.into_vec()).replace('\0', "\u{fffd}");
            CString::new(text).unwrap_or_default()
        })
        .into_raw()
}

/// `{"error": message}`.
fn error_json(message: &str) -> String {
    serde_json::json!({ "error": message }).to_string()
}

thread_local! {
    /// Each thread's evaluation memory, reused across checks (and engines: it resizes itself).
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Runs `f` with this thread's scratch memory, or a fresh one when it is unavailable (in use
/// further up the stack, or already destroyed because the thread is exiting).
fn with_scratch<T>(f: impl FnOnce(&mut Scratch) -> T) -> T {
    let mut f = Some(f);
    let reused = SCRATCH.try_with(|cell| {
        let mut scratch = cell.try_borrow_mut().ok()?;
        let f = f.take()?;
        Some(f(&mut scratch))
    });
    match (reused, f) {
        (Ok(Some(value)), _) => value,
        (_, Some(f)) => f(&mut Scratch::default()),
        // `f` was taken only just before it ran and returned `Some`.
        (_, None) => unreachable!("the scratch closure ran but returned no value"),
    }
}

/// Drops this thread's scratch memory, which a panic may have left half-written.
fn reset_scratch() {
    let _ = SCRATCH.try_with(|cell| {
        if let Ok(mut scratch) = cell.try_borrow_mut() {
            *scratch = Scratch::default();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATIENT: &str = r#"{
      "id": "p1", "birth_date": "1956-03-15", "conditions": [], "labs": [],
      "medications": [
        { "id": "m1", "text": "Baclofen 10 mg tablet", "dose": { "value": 10, "unit": "mg" },
          "frequency": "tid", "route": "oral" },
        { "id": "m2", "text": "Oxycodone 5 mg tablet", "dose": { "value": 5, "unit": "mg" },
          "frequency": "q6h", "route": "oral" }
      ]
    }"#;

    fn c(text: &str) -> CString {
        CString::new(text).unwrap()
    }

    /// Takes ownership of a string from the library.
    fn take(ptr: *mut c_char) -> Option<String> {
        if ptr.is_null() {
            return None;
        }
        // SAFETY: a live string from this library.
        let text = unsafe { CStr::from_ptr(ptr) }.to_str().unwrap().to_owned();
        // SAFETY: as above; freed once.
        unsafe { rxguard_string_free(ptr) };
        Some(text)
    }

    fn check(
        engine: *const RxEngine,
        json: *const c_char,
        as_of: *const c_char,
    ) -> Result<String, String> {
        let mut error = ptr::dangling_mut::<c_char>();
        // SAFETY: test pointers are NULL or valid C strings; `error` is writable.
        let report = unsafe { rxguard_check(engine, json, as_of, &mut error) };
        match (take(report), take(error)) {
            (Some(report), None) => Ok(report),
            (None, Some(error)) => Err(error),
            other => panic!("exactly one of report and error must be set: {other:?}"),
        }
    }

    #[test]
    fn bundled_engine_finds_baclofen_with_an_opioid() {
        let engine = rxguard_engine_bundled();
        assert!(!engine.is_null());
        let report = check(engine, c(PATIENT).as_ptr(), c("2026-11-01").as_ptr()).unwrap();
        let report: serde_json::Value = serde_json::from_str(&report).unwrap();
        assert_eq!(report["as_of"], "2026-11-01");
        let rules: Vec<&str> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["rule"].as_str().unwrap())
            .collect();
        assert!(rules.contains(&"baclofen_with_cns_depressant"), "{rules:?}");
        // Today's date when `as_of` is NULL.
        assert!(check(engine, c(PATIENT).as_ptr(), ptr::null()).is_ok());
        // SAFETY: a live engine, freed once.
        unsafe { rxguard_engine_free(engine) };
    }

    /// Builds with `rxguard_engine_build`: the engine, or the one diagnostics line.
    fn build(packs: &[RxPack], options: Option<&RxOptions>) -> Result<*mut RxEngine, String> {
        let mut diagnostics = ptr::dangling_mut::<c_char>();
        let options = options.map_or(ptr::null(), |o| o as *const RxOptions);
        let (packs, count) = match packs {
            [] => (ptr::null(), 0),
            p => (p.as_ptr(), p.len()),
        };
        // SAFETY: test pointers are NULL or valid for the call; `diagnostics` is writable.
        let engine = unsafe { rxguard_engine_build(packs, count, options, &mut diagnostics) };
        match (engine.is_null(), take(diagnostics)) {
            (false, None) => Ok(engine),
            (true, Some(d)) => Err(d),
            other => panic!("exactly one of engine and diagnostics must be set: {other:?}"),
        }
    }

    /// A 70-year-old on lorazepam and an entry known only by its RxNorm clinical drug code.
    const CODED: &str = r#"{"id": "p1", "age": 70, "conditions": [], "labs": [], "medications": [
      {"id": "m1", "text": "Tab 1 from the pharmacy", "rxnorm": "1049221", "route": "oral"},
      {"id": "m2", "text": "Lorazepam 1 mg tablet", "dose": {"value": 1, "unit": "mg"},
       "frequency": "bid", "route": "oral"}]}"#;

    fn rules(engine: *const RxEngine, record: &str) -> Vec<String> {
        let report = check(engine, c(record).as_ptr(), c("2026-11-01").as_ptr()).unwrap();
        let report: serde_json::Value = serde_json::from_str(&report).unwrap();
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["rule"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn a_site_relation_table_resolves_drug_codes_through_the_c_api() {
        // 1049221 is oxycodone 5 mg / acetaminophen 325 mg tablet; 7804 oxycodone, 161 acetaminophen.
        let dir = std::env::temp_dir().join(format!("rxguard-ffi-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let table = dir.join("relations.csv");
        std::fs::write(
            &table,
            "descendant_rxcui,ingredient_rxcui\n1049221,7804\n1049221,161\n",
        )
        .unwrap();
        let path = c(table.to_str().unwrap());
        let without = build(&[], None).unwrap();
        assert!(!rules(without, CODED).contains(&"opioid_with_benzodiazepine_elderly".into()));
        let options = RxOptions {
            profile_toml: ptr::null(),
            rxnorm_path: path.as_ptr(),
        };
        let with = build(&[], Some(&options)).unwrap();
        let found = rules(with, CODED);
        assert!(
            found.contains(&"opioid_with_benzodiazepine_elderly".into()),
            "{found:?}"
        );
        // SAFETY: live engines, each freed once.
        unsafe {
            rxguard_engine_free(without);
            rxguard_engine_free(with);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_site_profile_applies_and_bad_settings_are_errors_that_name_them() {
        let profile = c(concat!(
            "name = \"Test site\"\nversion = \"1\"\n",
            "[rules.baclofen_with_cns_depressant]\nenabled = false\n"
        ));
        let options = RxOptions {
            profile_toml: profile.as_ptr(),
            rxnorm_path: ptr::null(),
        };
        let engine = build(&[], Some(&options)).unwrap();
        let found = rules(engine, PATIENT);
        assert!(
            !found.contains(&"baclofen_with_cns_depressant".into()),
            "{found:?}"
        );
        let bundled = rxguard_engine_bundled();
        let found = rules(bundled, PATIENT);
        assert!(
            found.contains(&"baclofen_with_cns_depressant".into()),
            "{found:?}"
        );
        // SAFETY: live engines, each freed once.
        unsafe {
            rxguard_engine_free(engine);
            rxguard_engine_free(bundled);
        }
        let error = |options: &RxOptions| -> String {
            let line = build(&[], Some(options)).unwrap_err();
            let value: serde_json::Value = serde_json::from_str(line.trim_end()).unwrap();
            value["error"].as_str().unwrap().to_owned()
        };
        let missing = c("/nonexistent/relations.csv");
        let e = error(&RxOptions {
            profile_toml: ptr::null(),
            rxnorm_path: missing.as_ptr(),
        });
        assert!(
            e.starts_with("/nonexistent/relations.csv: cannot read"),
            "{e}"
        );
        let bad =
            c("name = \"Test site\"\nversion = \"1\"\n[rules.no_such_rule]\nenabled = false\n");
        let e = error(&RxOptions {
            profile_toml: bad.as_ptr(),
            rxnorm_path: ptr::null(),
        });
        assert!(e.starts_with("site profile: "), "{e}");
        assert!(e.contains("no_such_rule"), "{e}");
        // Packs given to `rxguard_engine_build` compile as with `rxguard_engine_from_packs`.
        let name = c("bad.rules");
        let text = c("pack p \"p\" version \"1.0.0\"\nrule r { }\n");
        let line = build(
            &[RxPack {
                name: name.as_ptr(),
                text: text.as_ptr(),
            }],
            None,
        )
        .unwrap_err();
        assert!(line.contains("\"file\":\"bad.rules\""), "{line}");
    }

    #[test]
    fn bad_input_is_an_error_object() {
        let engine = rxguard_engine_bundled();
        let date = c("2026-11-01");
        let error = |result: Result<String, String>| -> String {
            let error: serde_json::Value = serde_json::from_str(&result.unwrap_err()).unwrap();
            error["error"].as_str().unwrap().to_owned()
        };
        let e = error(check(
            engine,
            c(r#"{"id": "p", "medications": ["#).as_ptr(),
            date.as_ptr(),
        ));
        assert!(e.starts_with("invalid patient record"), "{e}");
        let e = error(check(
            engine,
            c(r#"{"id": "p", "colour": 1}"#).as_ptr(),
            date.as_ptr(),
        ));
        assert!(e.contains("colour"), "{e}");
        let e = error(check(engine, c(PATIENT).as_ptr(), c("2026-02-30").as_ptr()));
        assert!(e.contains("not a date"), "{e}");
        let e = error(check(engine, ptr::null(), date.as_ptr()));
        assert_eq!(e, "patient_json is NULL");
        let e = error(check(ptr::null(), c(PATIENT).as_ptr(), date.as_ptr()));
        assert_eq!(e, "engine is NULL");
        let not_utf8 = CString::new(vec![b'{', 0xff, b'}']).unwrap();
        let e = error(check(engine, not_utf8.as_ptr(), date.as_ptr()));
        assert!(e.contains("not valid UTF-8"), "{e}");
        // No error pointer: still NULL, no crash.
        // SAFETY: valid arguments; a NULL `error` is allowed.
        let report = unsafe { rxguard_check(engine, ptr::null(), date.as_ptr(), ptr::null_mut()) };
        assert!(report.is_null());
        // SAFETY: a live engine, freed once.
        unsafe { rxguard_engine_free(engine) };
    }

    fn from_packs(packs: &[(CString, CString)]) -> (*mut RxEngine, Option<String>) {
        let packs: Vec<RxPack> = packs
            .iter()
            .map(|(name, text)| RxPack {
                name: name.as_ptr(),
                text: text.as_ptr(),
            })
            .collect();
        let mut diagnostics = ptr::dangling_mut::<c_char>();
        // SAFETY: `packs` holds valid strings that outlive the call.
        let engine =
            unsafe { rxguard_engine_from_packs(packs.as_ptr(), packs.len(), &mut diagnostics) };
        (engine, take(diagnostics))
    }

    #[test]
    fn packs_compile_or_give_diagnostics() {
        let bundled: Vec<(CString, CString)> = rxguard_core::bundled::PACKS
            .iter()
            .map(|(name, text)| (c(name), c(text)))
            .collect();
        let (engine, diagnostics) = from_packs(&bundled);
        assert!(!engine.is_null());
        assert_eq!(diagnostics, None);
        assert!(check(engine, c(PATIENT).as_ptr(), c("2026-11-01").as_ptr()).is_ok());
        // SAFETY: a live engine, freed once.
        unsafe { rxguard_engine_free(engine) };

        let (engine, diagnostics) = from_packs(&[(
            c("bad.rules"),
            c("pack bad \"Bad\" version \"1.0.0\"\nrule r {"),
        )]);
        assert!(engine.is_null());
        let diagnostics = diagnostics.unwrap();
        for line in diagnostics.lines() {
            let d: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(d["code"].as_str().unwrap().starts_with('E'), "{line}");
            assert_eq!(d["file"], "bad.rules");
        }

        let (engine, diagnostics) =
            from_packs(&[(c("a.rules"), CString::new(vec![0xc3]).unwrap())]);
        assert!(engine.is_null());
        assert!(
            diagnostics
                .unwrap()
                .contains("packs[0].text is not valid UTF-8")
        );

        let mut diagnostics = ptr::null_mut();
        // SAFETY: a NULL array with a count is reported, not read.
        let engine = unsafe { rxguard_engine_from_packs(ptr::null(), 2, &mut diagnostics) };
        assert!(engine.is_null());
        assert!(take(diagnostics).unwrap().contains("packs is NULL"));
    }

    #[test]
    fn a_panic_becomes_an_error() {
        let result: Result<(), Failure> = catch(|| panic!("boom"));
        match result {
            Err(Failure::Panic(message)) => assert!(message.contains("boom"), "{message}"),
            _ => panic!("expected a panic failure"),
        }
        // The thread's scratch is usable afterwards.
        let engine = rxguard_engine_bundled();
        assert!(check(engine, c(PATIENT).as_ptr(), c("2026-11-01").as_ptr()).is_ok());
        // SAFETY: a live engine, freed once.
        unsafe { rxguard_engine_free(engine) };
    }

    #[test]
    fn version_and_null_frees() {
        // SAFETY: a static NUL-terminated string.
        let version = unsafe { CStr::from_ptr(rxguard_version()) };
        assert_eq!(version.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
        // SAFETY: NULL is ignored.
        unsafe {
            rxguard_string_free(ptr::null_mut());
            rxguard_engine_free(ptr::null_mut());
        }
    }
}
