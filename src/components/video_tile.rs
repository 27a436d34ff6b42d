use leptos::html::Video;
use leptos::prelude::*;

/// One person's video with their name under it. When their camera is off the tile shows
/// their initial instead of a black picture, and a badge says when they are muted.
#[component]
pub fn VideoTile(
    class: &'static str,
    label: Signal<String>,
    node_ref: NodeRef<Video>,
    /// The local preview is muted so people don't hear themselves.
    muted: bool,
    /// No picture is being sent: show the placeholder.
    camera_off: Signal<bool>,
    /// Said over the video, e.g. "Alice muted".
    badge: Signal<Option<String>>,
) -> AnyView {
    let initial = move || {
        label
            .get()
            .chars()
            .next()
            .map(|c| c.to_uppercase().to_string())
            .unwrap_or_default()
    };
    view! {
        <figure class=format!("tile {class}") class:camera-off=move || camera_off.get()>
            <video
                node_ref=node_ref
                autoplay
                playsinline
                muted=muted
                prop:muted=muted
                aria-label=move || format!("Video: {}", label.get())
            ></video>
            <Show when=move || camera_off.get()>
                <div class="placeholder" aria-label=move || format!("{} (camera off)", label.get())>
                    <span class="avatar" aria-hidden="true">{initial}</span>
                    <span class="placeholder-text">"Camera off"</span>
                </div>
            </Show>
            <Show when=move || badge.with(Option::is_some)>
                <span class="badge" aria-live="polite">{move || badge.get()}</span>
            </Show>
            <figcaption>{move || label.get()}</figcaption>
        </figure>
    }
    .into_any()
}
