//! The catalogues in src/locales/: every language says everything English says, with the
//! same values put in, and nothing more. (The build fills a missing key with English and
//! only warns; a half-translated page is caught here instead.)

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const REFERENCE: &str = "en-GB";
/// CLDR plural categories a key may end in (`items_one`, `items_other`): one key.
const PLURAL_FORMS: [&str; 6] = ["zero", "one", "two", "few", "many", "other"];

fn locales_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/locales")
}

fn languages() -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir(locales_dir())
        .expect("src/locales/ is readable")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    found.sort();
    found
}

/// Every key of one language, flattened (`section.key`, the plural form left on), with
/// its text, per namespace file.
fn catalogue(language: &str) -> BTreeMap<String, String> {
    let mut keys = BTreeMap::new();
    let dir = locales_dir().join(language);
    for entry in std::fs::read_dir(&dir).expect("a language's folder is readable") {
        let path = entry.expect("an entry").path();
        let namespace = path
            .file_stem()
            .expect("a file name")
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(&path).expect("a catalogue is readable");
        let json: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
        flatten(&namespace, &json, &mut keys);
    }
    keys
}

fn flatten(prefix: &str, value: &Value, into: &mut BTreeMap<String, String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                flatten(&format!("{prefix}.{key}"), value, into);
            }
        }
        Value::String(text) => {
            into.insert(prefix.to_owned(), text.clone());
        }
        other => panic!("{prefix}: a catalogue holds text, not {other}"),
    }
}

/// `status.connected_one` → (`status.connected`, Some("one")).
fn plural_base(key: &str) -> (&str, Option<&str>) {
    PLURAL_FORMS
        .iter()
        .find_map(|form| {
            key.strip_suffix(form)
                .and_then(|k| k.strip_suffix('_'))
                .map(|base| (base, Some(*form)))
        })
        .unwrap_or((key, None))
}

/// The values a text puts in: `{{ name }}`, `{{ names, list(list_type: and) }}` → name(s).
fn placeholders(text: &str) -> BTreeSet<String> {
    text.split("{{")
        .skip(1)
        .filter_map(|rest| rest.split_once("}}"))
        .map(|(inside, _)| {
            inside
                .split(',')
                .next()
                .expect("split yields one part at least")
                .trim()
                .to_owned()
        })
        .collect()
}

#[test]
fn every_language_has_every_key_english_has_and_no_other() {
    let english: BTreeSet<String> = catalogue(REFERENCE)
        .keys()
        .map(|k| plural_base(k).0.to_owned())
        .collect();
    assert!(
        english.len() > 20,
        "the English catalogue is read: {english:?}"
    );
    let languages = languages();
    assert_eq!(languages, ["de", "en-GB", "es", "fr"]);
    for language in languages {
        let theirs: BTreeSet<String> = catalogue(&language)
            .keys()
            .map(|k| plural_base(k).0.to_owned())
            .collect();
        let missing: Vec<_> = english.difference(&theirs).collect();
        let extra: Vec<_> = theirs.difference(&english).collect();
        assert!(missing.is_empty(), "{language} lacks {missing:?}");
        assert!(
            extra.is_empty(),
            "{language} has keys English has not: {extra:?}"
        );
    }
}

#[test]
fn every_text_puts_in_the_values_english_puts_in_and_plurals_have_other() {
    let english = catalogue(REFERENCE);
    let wanted: BTreeMap<&str, BTreeSet<String>> =
        english
            .iter()
            .fold(BTreeMap::new(), |mut wanted, (key, text)| {
                wanted
                    .entry(plural_base(key).0)
                    .or_insert_with(BTreeSet::new)
                    .extend(placeholders(text));
                wanted
            });
    for language in languages() {
        let catalogue = catalogue(&language);
        let mut forms: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (key, text) in &catalogue {
            assert!(!text.trim().is_empty(), "{language}: {key} is empty");
            let (base, form) = plural_base(key);
            if let Some(form) = form {
                forms.entry(base).or_default().insert(form);
            }
            let mut put_in = placeholders(text);
            // A plural form may leave the count out ("one message").
            if form.is_some() {
                put_in.insert("count".into());
            }
            let mut expected = wanted.get(base).cloned().unwrap_or_default();
            if form.is_some() {
                expected.insert("count".into());
            }
            assert_eq!(put_in, expected, "{language}: {key} = {text:?}");
        }
        for (base, forms) in forms {
            assert!(
                forms.contains("other"),
                "{language}: {base} has no _other form"
            );
        }
    }
}
