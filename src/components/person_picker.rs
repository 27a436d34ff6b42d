use crate::call_state::CallState;
use crate::protocol::signaling::PeerId;
use leptos::prelude::*;

/// Picks one of the others in the call, shown once there are two or more of them (with
/// one, there is nobody to choose between). `everyone` names an extra first choice that
/// stands for all of them (`None` in `picked`).
#[component]
pub fn PersonPicker(
    call: CallState,
    class: &'static str,
    /// Its label: text, or a closure giving it in the person's language.
    #[prop(into)]
    label: TextProp,
    #[prop(optional, into)] everyone: Option<TextProp>,
    picked: RwSignal<Option<PeerId>>,
) -> impl IntoView {
    let label = Signal::derive(move || label.get().to_string());
    let everyone = everyone.map(|text| Signal::derive(move || text.get().to_string()));
    let pick = move |ev: leptos::ev::Event| {
        picked.set(event_target_value(&ev).parse::<u64>().ok().map(PeerId));
    };
    view! {
        <Show when=move || call.people.with(|p| p.len() > 1)>
            <label class=class>
                {label}
                " "
                <select on:change=pick>
                    {everyone.map(|text| view! {
                        <option value="" selected=move || picked.get().is_none()>{text}</option>
                    })}
                    <For
                        each=move || call.people.get()
                        key=|p| (p.id, p.name.clone())
                        let(person)
                    >
                        <option
                            value=person.id.to_string()
                            selected=move || picked.get() == Some(person.id)
                        >
                            {person.name.clone()}
                        </option>
                    </For>
                </select>
            </label>
        </Show>
    }
}
