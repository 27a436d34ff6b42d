use leptos::html::Video;
use leptos::prelude::*;

/// One person's video with their name under it.
#[component]
pub fn VideoTile(
    class: &'static str,
    label: Signal<String>,
    node_ref: NodeRef<Video>,
    /// The local preview is muted so people don't hear themselves.
    muted: bool,
) -> impl IntoView {
    view! {
        <figure class=format!("tile {class}")>
            <video
                node_ref=node_ref
                autoplay
                playsinline
                muted=muted
                prop:muted=muted
                aria-label=move || format!("Video: {}", label.get())
            ></video>
            <figcaption>{move || label.get()}</figcaption>
        </figure>
    }
}
