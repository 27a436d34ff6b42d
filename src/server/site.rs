//! Where the site's files are served from: the folder cargo-leptos builds, or the binary.
//!
//! Development (`cargo leptos watch`), `make run` and the tests serve the folder
//! (`target/site`, or wherever `LEPTOS_SITE_ROOT` says), so a rebuilt client is served at
//! once. `make dist` builds one file: the server with the whole site packed inside it
//! (feature `embed-site`: the HTML's scripts, every hashed wasm and JS chunk, the CSS,
//! their brotli and gzip copies, and the `hash.txt` that names them). Such a binary
//! serves what it carries, unless `LEPTOS_SITE_ROOT` is set.
//!
//! A packed site is unpacked at start into a private folder of its own (mode 0700, a
//! fresh random name under the system's temporary folder), removed when the server stops.
//! Leptos 0.8 reads the hashed names (`hash.txt`) and the split manifest from files, and
//! `ServeDir` serves files with their precompressed copies and conditional requests: on a
//! folder, the packed binary runs exactly the code every test runs.

use leptos::config::LeptosOptions;

/// Inside what is packed: the hashes at its root, the site in this folder.
pub const PACKED_SITE: &str = "site";

/// A site unpacked for this run: its folder is removed when this is dropped.
pub struct Unpacked {
    folder: tempfile::TempDir,
}

impl Unpacked {
    pub fn folder(&self) -> &std::path::Path {
        self.folder.path()
    }
}

/// Whether this binary carries the site (built with `make dist`).
pub const fn packed() -> bool {
    cfg!(feature = "embed-site")
}

/// Unpacks the site this binary carries and points `options` at it, unless the binary
/// carries none or `LEPTOS_SITE_ROOT` names a folder to serve instead. Keep what is
/// returned for as long as the server runs.
pub fn unpack_if_packed(options: &mut LeptosOptions) -> Result<Option<Unpacked>, String> {
    if !packed() || std::env::var_os("LEPTOS_SITE_ROOT").is_some() {
        return Ok(None);
    }
    let folder = tempfile::Builder::new()
        .prefix("tandem-site-")
        .tempdir()
        .map_err(|e| {
            format!(
                "cannot make a folder for the site this binary carries in {}: {e}; set \
                 TMPDIR to a writable folder, or LEPTOS_SITE_ROOT to a built site",
                std::env::temp_dir().display()
            )
        })?;
    for (name, data) in packed::files() {
        let path = folder.path().join(name.as_ref());
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, &data));
        written.map_err(|e| format!("cannot unpack the site into {}: {e}", path.display()))?;
    }
    let hashes = folder.path().join(&*options.hash_file);
    options.hash_files = hashes.is_file();
    // Leptos looks for the hash file beside the binary, by joining this name to that
    // folder: an absolute path wins the join.
    options.hash_file = hashes.to_string_lossy().into_owned().into();
    options.site_root = folder
        .path()
        .join(PACKED_SITE)
        .to_string_lossy()
        .into_owned()
        .into();
    Ok(Some(Unpacked { folder }))
}

#[cfg(feature = "embed-site")]
mod packed {
    use std::borrow::Cow;

    /// What `make dist` gathered: `hash.txt` and `site/`, the site it was built with.
    #[derive(rust_embed::Embed)]
    #[folder = "$TANDEM_EMBED_SITE"]
    struct Packed;

    /// Every file carried, by its path inside what was packed.
    pub fn files() -> impl Iterator<Item = (Cow<'static, str>, Cow<'static, [u8]>)> {
        Packed::iter().filter_map(|name| {
            let file = Packed::get(&name)?;
            Some((name, file.data))
        })
    }
}

#[cfg(not(feature = "embed-site"))]
mod packed {
    use std::borrow::Cow;

    /// A binary built without the site carries nothing.
    pub fn files() -> std::iter::Empty<(Cow<'static, str>, Cow<'static, [u8]>)> {
        std::iter::empty()
    }
}
