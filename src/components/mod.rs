//! What the person sees on the call screen.

pub mod chat;
pub mod controls;
pub mod devices;
pub mod files;
pub mod invite;
pub mod person_picker;
pub mod stats_panel;
pub mod status;
pub mod video_tile;
