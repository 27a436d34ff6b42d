//! What the person sees on the call screen. Components return `impl IntoView`, except
//! those the call screen nests deeply (`-> AnyView`, `.into_any()`): erasing their view
//! types keeps the call screen's type within the compiler's query depth limit (without
//! it, `CallScreen` fails to build with "queries overflow the depth limit").

pub mod call_notes;
pub mod chat;
pub mod connection_check;
pub mod controls;
pub mod devices;
pub mod files;
pub mod invite;
pub mod join_card;
pub mod knocks;
pub mod language_picker;
pub mod name_field;
pub mod people;
pub mod person_picker;
pub mod recording;
pub mod stats_panel;
pub mod status;
pub mod verify_panel;
pub mod video_tile;
pub mod words;
