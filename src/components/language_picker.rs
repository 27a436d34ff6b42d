//! The language picker on the home page: each language named in itself, the choice
//! remembered (a cookie) and the page redrawn in it at once.

use crate::i18n::*;
use leptos::prelude::*;
use leptos_i18n::Locale as _;

#[component]
pub fn LanguagePicker() -> impl IntoView {
    let i18n = use_i18n();
    let pick = move |ev: leptos::ev::Event| {
        let code = event_target_value(&ev);
        if let Some(locale) = Locale::get_all().iter().find(|l| l.as_str() == code) {
            i18n.set_locale(*locale);
        }
    };
    view! {
        <div class="language-picker">
            <label for="language">{move || td_string!(i18n.get_locale(), common.language)}</label>
            <select id="language" on:change=pick>
                {Locale::get_all()
                    .iter()
                    .map(|locale| {
                        let locale = *locale;
                        view! {
                            <option
                                value=locale.as_str()
                                lang=locale.as_str()
                                selected=move || i18n.get_locale() == locale
                            >
                                {td_string!(locale, common.language_name)}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
        </div>
    }
}
