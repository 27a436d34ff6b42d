//! Compiles the catalogues in src/locales/ into the typed `i18n` module (src/i18n.rs).

use leptos_i18n_build::{Config, ParseOptions, TranslationsInfos};
use std::error::Error;
use std::path::PathBuf;

/// The languages Tandem speaks besides English (British: "Bob, Carol and Dave"), the
/// reference every other catalogue follows and the language when nothing else matches.
const LOCALES: [&str; 3] = ["de", "fr", "es"];
/// One catalogue per part of the app, in each language's folder.
const NAMESPACES: [&str; 6] = ["common", "home", "call", "status", "controls", "people"];

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo::rerun-if-changed=build.rs");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("cargo sets OUT_DIR")?).join("i18n");
    let config = Config::new("en-GB")?
        .add_locales(LOCALES)?
        .add_namespaces(NAMESPACES)?
        .locales_path("src/locales")
        // Attributes (aria-label, title, placeholder) need translations as plain strings.
        .parse_options(ParseOptions::default().interpolate_display(true));
    let translations = TranslationsInfos::parse(config)?;
    translations.emit_diagnostics();
    translations.rerun_if_locales_changed();
    translations.generate_i18n_module(out)?;
    Ok(())
}
