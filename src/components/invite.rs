use leptos::html::Input;
use leptos::prelude::*;

/// "Copy invite link": puts a link to this room on the clipboard. Where the browser
/// refuses the clipboard, the link is shown selected, ready for Ctrl+C.
#[component]
pub fn InviteButton(room: String) -> AnyView {
    let copied = RwSignal::new(false);
    let shown = RwSignal::new(None::<String>);
    let field = NodeRef::<Input>::new();
    let copy = move |_| {
        let link = invite_link(&room);
        copied.set(false);
        shown.set(None);
        copy_link(link, copied, shown, field);
    };
    view! {
        <div class="invite">
            <button on:click=copy>"Copy invite link"</button>
            <span class="copied" aria-live="polite">
                {move || copied.get().then_some("Invite link copied")}
            </span>
            <Show when=move || shown.with(Option::is_some)>
                <label class="invite-fallback">
                    "Invite link (copy it with Ctrl+C)"
                    <input node_ref=field readonly prop:value=move || shown.get().unwrap_or_default()/>
                </label>
            </Show>
        </div>
    }
    .into_any()
}

/// The home page with the room filled in: the guest only types their name.
pub fn invite_path(room: &str) -> String {
    format!("/?room={room}")
}

#[cfg(feature = "hydrate")]
fn invite_link(room: &str) -> String {
    crate::client::page_origin().unwrap_or_default() + &invite_path(room)
}

#[cfg(feature = "hydrate")]
fn copy_link(
    link: String,
    copied: RwSignal<bool>,
    shown: RwSignal<Option<String>>,
    field: NodeRef<Input>,
) {
    leptos::task::spawn_local(async move {
        match crate::client::copy_to_clipboard(&link).await {
            Ok(()) => copied.set(true),
            Err(_) => {
                shown.set(Some(link));
                // Select the text once the field is on the page.
                request_animation_frame(move || {
                    if let Some(input) = field.get_untracked() {
                        let _ = input.focus();
                        input.select();
                    }
                });
            }
        }
    });
}

// Buttons only work in the browser; the server renders them and never calls these.
#[cfg(not(feature = "hydrate"))]
fn invite_link(room: &str) -> String {
    invite_path(room)
}

#[cfg(not(feature = "hydrate"))]
fn copy_link(_: String, _: RwSignal<bool>, _: RwSignal<Option<String>>, _: NodeRef<Input>) {}
