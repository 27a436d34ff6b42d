//! Static files: compressed once, cached by browsers for as long as their names allow.
//!
//! The client's wasm shrinks to about a third with brotli, but brotli's best is far too slow
//! to run per request (sizes and times: BENCHMARKS.md). So at startup the server writes
//! `.br` and `.gz` side files next to each compressible asset (once; later starts find them
//! fresh), and `ServeDir` sends the smallest one the browser accepts.

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Kinds of file worth compressing; images and media are compressed already.
const COMPRESSIBLE: &[&str] = &["wasm", "js", "css", "svg", "html", "json", "txt", "map"];
/// Below this a compressed copy saves less than its headers cost.
const MIN_BYTES: u64 = 1024;
/// Brotli's best takes seconds on the release wasm, once per build. Debug builds serve a
/// much larger wasm from a server restarted on every edit: there, quick and good enough.
const BROTLI_QUALITY: i32 = if cfg!(debug_assertions) { 5 } else { 11 };
const GZIP_LEVEL: u32 = if cfg!(debug_assertions) { 6 } else { 9 };

/// What browsers may keep: hashed names change with their content, so they never go stale.
pub const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
/// Pages and unhashed files: keep if you like, but ask first (the server answers 304).
pub const REVALIDATE: HeaderValue = HeaderValue::from_static("no-cache");

/// Writes fresh `.br` and `.gz` copies of every compressible file under `root`. A copy is
/// fresh when it is newer than its source; copies appear whole (written aside, then
/// renamed), so a request never sees half a file. Returns how many copies were written.
pub fn precompress(root: &Path) -> std::io::Result<usize> {
    // Servers in one process (tests) share the work: the second finds it done.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut written = 0;
    for source in compressible_files(root)? {
        let stale: Vec<_> = [Encoding::Brotli, Encoding::Gzip]
            .into_iter()
            .filter(|encoding| !is_fresh(&encoding.side_file(&source), &source))
            .collect();
        if stale.is_empty() {
            continue;
        }
        // Read once for both copies.
        let data = std::fs::read(&source)?;
        for encoding in stale {
            let target = encoding.side_file(&source);
            // Named for this process: two servers started at once each write their own.
            let aside = target.with_extension(format!(
                "{}.{}.partial",
                encoding.extension(),
                std::process::id()
            ));
            let done = std::fs::write(&aside, encoding.compress(&data)?)
                .and_then(|()| std::fs::rename(&aside, &target));
            if let Err(e) = done {
                let _ = std::fs::remove_file(&aside);
                return Err(e);
            }
            written += 1;
        }
    }
    Ok(written)
}

/// Whether `pkg` holds a client built without `--split`. The call screen and its panels
/// are split points, so such a client cannot start in a browser ("Failed to resolve module
/// specifier __wasm_split_placeholder__"). Every make target builds split; a bare
/// `cargo leptos build` does not, and nothing else would say so.
pub fn unsplit_client(pkg: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(pkg) else {
        return false;
    };
    let (mut wasm, mut loader) = (false, false);
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        wasm |= name.ends_with(".wasm");
        loader |= name.starts_with("__wasm_split");
    }
    wasm && !loader
}

/// Sets `Cache-Control` on whatever the router answered, unless the handler chose one:
/// files under `/{pkg_dir}/` are immutable when cargo-leptos hashed their names; everything
/// else (pages, favicon, health checks) must be revalidated. Every answer may differ by
/// `Accept-Encoding` (`ServeDir` does not say so), which shared caches must know; a page
/// also by the language and the scripts chosen for the request.
pub async fn caching_headers(
    hashed_pkg_prefix: Option<Arc<str>>,
    request: Request,
    next: Next,
) -> Response {
    let immutable =
        hashed_pkg_prefix.is_some_and(|prefix| request.uri().path().starts_with(&*prefix));
    let mut response = next.run(request).await;
    let value = if immutable && response.status().is_success() {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    // A page is also rendered in the person's language (the cookie, else Accept-Language)
    // and carries scripts that depend on where the person came from (Sec-Fetch-Site).
    let page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|kind| kind.as_bytes().starts_with(b"text/html"));
    let vary = match page {
        true => "accept-encoding, accept-language, cookie, sec-fetch-site",
        false => "accept-encoding",
    };
    let headers = response.headers_mut();
    headers.entry(header::CACHE_CONTROL).or_insert(value);
    headers
        .entry(header::VARY)
        .or_insert(HeaderValue::from_static(vary));
    response
}

#[derive(Clone, Copy)]
enum Encoding {
    Brotli,
    Gzip,
}

impl Encoding {
    fn extension(self) -> &'static str {
        match self {
            Encoding::Brotli => "br",
            Encoding::Gzip => "gz",
        }
    }

    /// `tandem.X.wasm` → `tandem.X.wasm.br`, the name `ServeDir` looks for.
    fn side_file(self, source: &Path) -> PathBuf {
        let mut name = source.as_os_str().to_owned();
        name.push(".");
        name.push(self.extension());
        PathBuf::from(name)
    }

    fn compress(self, data: &[u8]) -> std::io::Result<Vec<u8>> {
        match self {
            Encoding::Brotli => {
                let mut out = Vec::with_capacity(data.len() / 3);
                let params = brotli::enc::BrotliEncoderParams {
                    quality: BROTLI_QUALITY,
                    lgwin: 22,
                    size_hint: data.len(),
                    ..Default::default()
                };
                brotli::BrotliCompress(&mut &data[..], &mut out, &params)?;
                Ok(out)
            }
            Encoding::Gzip => {
                let mut encoder = flate2::write::GzEncoder::new(
                    Vec::with_capacity(data.len() / 3),
                    flate2::Compression::new(GZIP_LEVEL),
                );
                encoder.write_all(data)?;
                encoder.finish()
            }
        }
    }
}

fn is_fresh(target: &Path, source: &Path) -> bool {
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified());
    matches!((modified(target), modified(source)), (Ok(t), Ok(s)) if t >= s)
}

/// A copy being written for longer than this was left by a server that stopped halfway.
const ABANDONED: Duration = Duration::from_secs(120);

/// Every file under `root` (recursively) worth compressing. Removes abandoned partial
/// copies on the way.
fn compressible_files(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let entry = entry?;
            let path = entry.path();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "partial") {
                let age = entry.metadata()?.modified()?.elapsed().unwrap_or_default();
                if age > ABANDONED {
                    let _ = std::fs::remove_file(&path);
                }
            } else if kind.is_file()
                && entry.metadata()?.len() >= MIN_BYTES
                && path
                    .extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| COMPRESSIBLE.contains(&e))
            {
                found.push(path);
            }
        }
    }
    Ok(found)
}

/// The `kind: hash` lines of `hash.txt` (beside the binary), and where it was read.
fn hash_lines(
    options: &leptos::config::LeptosOptions,
) -> Result<(PathBuf, Vec<(String, String)>), String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    let hashes = exe
        .parent()
        .map(|dir| dir.join(&*options.hash_file))
        .ok_or("this binary is in no folder")?;
    let text = std::fs::read_to_string(&hashes)
        .map_err(|e| format!("cannot read {}: {e}", hashes.display()))?;
    let lines = text
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(kind, hash)| (kind.trim().to_owned(), hash.trim().to_owned()))
        .collect();
    Ok((hashes, lines))
}

/// Checks that the site folder holds the files the page will name: with hashed names,
/// every one `hash.txt` (beside the binary) names must be there. A release binary started
/// on a site a debug build has since rebuilt (they share `target/site`) would otherwise
/// serve pages whose scripts are all 404, and every call would stay on "Starting…" with
/// no error anywhere. Says which file is missing, and where it was looked for.
pub fn check_site(options: &leptos::config::LeptosOptions) -> Result<(), String> {
    if !options.hash_files {
        return Ok(());
    }
    let (hashes, lines) = hash_lines(options)?;
    let pkg = Path::new(&*options.site_root).join(&*options.site_pkg_dir);
    let name = &options.output_name;
    for (kind, hash) in lines {
        let file = match kind.as_str() {
            "js" => format!("{name}.{hash}.js"),
            "wasm" => format!("{name}.{hash}.wasm"),
            "css" => format!("{name}.{hash}.css"),
            "manifest" => format!("__wasm_split_manifest.{hash}.json"),
            "split" => format!("__wasm_split.{hash}.js"),
            _ => continue,
        };
        if !pkg.join(&file).is_file() {
            return Err(format!(
                "the site in {} does not match this binary: {file}, named in {}, is not \
                 there (another build has replaced the site since); build the site again \
                 for this binary (cargo leptos build --split, with --release for a release \
                 binary), or point LEPTOS_SITE_ROOT at the site it was built with",
                pkg.display(),
                hashes.display()
            ));
        }
    }
    Ok(())
}

/// The files of the call screen's code (its chunks of the split client, none of the
/// panels'), as `/pkg/…` paths: a home page fetches them while the person types, so Join
/// finds them in the cache (issue 25). Read once from the split manifest the binary's
/// `hash.txt` names; empty (nothing is fetched early) if it cannot be read.
pub fn call_chunks(options: &leptos::config::LeptosOptions) -> &'static [String] {
    static CHUNKS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    CHUNKS.get_or_init(|| {
        let pkg = Path::new(&*options.site_root).join(&*options.site_pkg_dir);
        let manifest = manifest_name(options);
        match std::fs::read_to_string(pkg.join(&manifest)) {
            Ok(json) => call_chunk_paths(&json, &options.site_pkg_dir),
            Err(e) => {
                tracing::warn!("no early fetch of the call screen: cannot read {manifest}: {e}");
                Vec::new()
            }
        }
    })
}

/// The split manifest's name: hashed as `hash.txt` (beside the binary) says, if it does.
fn manifest_name(options: &leptos::config::LeptosOptions) -> String {
    let hashed = hash_lines(options).ok().and_then(|(_, lines)| {
        lines
            .into_iter()
            .find_map(|(kind, hash)| (kind == "manifest").then_some(hash))
    });
    match hashed {
        Some(hash) if options.hash_files => format!("__wasm_split_manifest.{hash}.json"),
        _ => "__wasm_split_manifest.json".to_owned(),
    }
}

/// The call route's files in a split manifest (`{"<split>": ["<file>", …], …}`): those of
/// the one split whose name starts `__call_route_view_`.
fn call_chunk_paths(manifest: &str, pkg_dir: &str) -> Vec<String> {
    let Ok(splits) =
        serde_json::from_str::<std::collections::HashMap<String, Vec<String>>>(manifest)
    else {
        return Vec::new();
    };
    let mut calls = splits
        .iter()
        .filter(|(split, _)| split.starts_with("__call_route_view_"));
    match (calls.next(), calls.next()) {
        (Some((_, files)), None) => files
            .iter()
            .map(|file| format!("/{pkg_dir}/{file}.wasm"))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn site() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "tandem-assets-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(dir.join("pkg")).unwrap();
        dir
    }

    #[test]
    fn a_client_built_without_split_is_told_apart() {
        let root = site();
        let pkg = root.join("pkg");
        assert!(!unsplit_client(&pkg), "no client at all");
        std::fs::write(pkg.join("tandem.abc.wasm"), b"\0asm").unwrap();
        assert!(unsplit_client(&pkg));
        std::fs::write(pkg.join("__wasm_split.abc.js"), b"").unwrap();
        assert!(!unsplit_client(&pkg));
        assert!(!unsplit_client(&root.join("missing")));
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn compresses_what_is_worth_it_and_round_trips() {
        let root = site();
        let script = "console.log('tandem');\n".repeat(200);
        std::fs::write(root.join("pkg/app.abc.js"), &script).unwrap();
        std::fs::write(root.join("pkg/tiny.css"), "a{}").unwrap();
        std::fs::write(root.join("photo.png"), vec![7u8; 4096]).unwrap();
        assert_eq!(precompress(&root).unwrap(), 2);

        let mut unbrotli = Vec::new();
        brotli::BrotliDecompress(
            &mut std::fs::File::open(root.join("pkg/app.abc.js.br")).unwrap(),
            &mut unbrotli,
        )
        .unwrap();
        assert_eq!(unbrotli, script.as_bytes());
        let mut ungzip = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(root.join("pkg/app.abc.js.gz")).unwrap())
            .read_to_string(&mut ungzip)
            .unwrap();
        assert_eq!(ungzip, script);
        assert!(!root.join("pkg/tiny.css.br").exists(), "too small to gain");
        assert!(!root.join("photo.png.br").exists(), "not compressible");
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn copies_abandoned_halfway_are_cleared_and_fresh_partials_left_alone() {
        let root = site();
        let old = root.join("pkg/app.js.br.4242.partial");
        let young = root.join("pkg/app.js.gz.4343.partial");
        std::fs::write(&old, "half").unwrap();
        std::fs::write(&young, "half").unwrap();
        let long_ago = std::time::SystemTime::now() - ABANDONED * 2;
        std::fs::File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
        precompress(&root).unwrap();
        assert!(!old.exists(), "left by a server that stopped");
        assert!(young.exists(), "maybe another server's, still writing");
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn fresh_copies_are_kept_and_stale_ones_rewritten() {
        let root = site();
        let source = root.join("pkg/app.js");
        std::fs::write(&source, "x".repeat(5000)).unwrap();
        assert_eq!(precompress(&root).unwrap(), 2);
        assert_eq!(precompress(&root).unwrap(), 0, "nothing changed");

        // A rebuild writes the source again after its copies were made.
        std::fs::write(&source, "y".repeat(5000)).unwrap();
        let copies_made = std::fs::metadata(root.join("pkg/app.js.gz"))
            .unwrap()
            .modified()
            .unwrap();
        std::fs::File::options()
            .write(true)
            .open(&source)
            .unwrap()
            .set_modified(copies_made + std::time::Duration::from_secs(1))
            .unwrap();
        assert_eq!(precompress(&root).unwrap(), 2);
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(root.join("pkg/app.js.gz")).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "y".repeat(5000));
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn the_call_screens_files_are_read_from_the_split_manifest_and_no_panels() {
        let manifest = r#"{
            "__call_route_view_1424": ["chunk_5.abc", "split___call_route_view_1424.def"],
            "__stats_panel": ["chunk_12.x", "split_stats_panel.y"]
        }"#;
        assert_eq!(
            call_chunk_paths(manifest, "pkg"),
            [
                "/pkg/chunk_5.abc.wasm",
                "/pkg/split___call_route_view_1424.def.wasm"
            ]
        );
        // Unreadable, or not one call route: nothing is fetched early.
        assert!(call_chunk_paths("not json", "pkg").is_empty());
        assert!(call_chunk_paths(r#"{"__stats_panel": ["a"]}"#, "pkg").is_empty());
        let two = r#"{"__call_route_view_1": ["a"], "__call_route_view_2": ["b"]}"#;
        assert!(call_chunk_paths(two, "pkg").is_empty());
    }
}
