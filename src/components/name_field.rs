//! The "Your name" field, with what is wrong with it below: on the home form and on the
//! join card.

use crate::components::words::{self, FieldProblem};
use crate::i18n::*;
use leptos::prelude::*;

#[component]
pub fn NameField(name: RwSignal<String>, error: RwSignal<Option<FieldProblem>>) -> impl IntoView {
    let i18n = use_i18n();
    // The server writes the value into the page; once the app has taken the page over,
    // the binding holds it and the attribute is left alone.
    let typed = cfg!(feature = "ssr").then(|| name.get_untracked());
    view! {
        <div class="field">
            <label for="name">{move || td_string!(i18n.get_locale(), common.your_name)}</label>
            <input
                id="name"
                name="name"
                autocomplete="nickname"
                value=typed
                bind:value=name
                aria-invalid=move || error.with(Option::is_some).to_string()
                aria-describedby="name-error"
            />
            <p id="name-error" class="field-error" role="alert">
                {move || error.get().map(|problem| words::field_problem(i18n.get_locale(), problem))}
            </p>
        </div>
    }
}
