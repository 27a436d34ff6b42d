//! The call's state as the call screen shows it. The browser-side session
//! (`client::session`) writes these signals; the components only read them.

use crate::stats::{CallStats, History};
use leptos::html::Video;
use leptos::prelude::*;

/// Where the call stands, as the status line says it.
#[derive(Clone, Debug, PartialEq)]
pub enum CallStatus {
    Starting,
    Joining,
    Waiting,
    Connecting { with: String },
    Connected { with: String },
    Interrupted { with: String },
    PeerLeft { name: String },
    RoomFull,
    Failed(String),
    Ended,
}

impl CallStatus {
    pub fn text(&self) -> String {
        match self {
            CallStatus::Starting => "Starting camera and microphone…".into(),
            CallStatus::Joining => "Joining the room…".into(),
            CallStatus::Waiting => "Waiting for someone to join.".into(),
            CallStatus::Connecting { with } => format!("Connecting to {with}…"),
            CallStatus::Connected { with } => format!("Connected with {with}."),
            CallStatus::Interrupted { with } => format!("Connection to {with} lost; reconnecting…"),
            CallStatus::PeerLeft { name } => {
                format!("{name} left the call. Waiting for someone to join.")
            }
            CallStatus::RoomFull => "This room is full.".into(),
            CallStatus::Failed(why) => format!("Connection failed: {why}"),
            CallStatus::Ended => "Call ended.".into(),
        }
    }

    /// The call is over from this side: no session runs any more.
    pub fn is_final(&self) -> bool {
        matches!(self, CallStatus::RoomFull | CallStatus::Ended)
    }
}

/// First reconnect delay, and the cap; each failed try doubles it.
pub const RECONNECT_FIRST_MS: f64 = 250.0;
pub const RECONNECT_MAX_MS: f64 = 8_000.0;

/// How long to wait before reconnect attempt number `attempt` (0 for the first), given
/// `jitter` uniform in [0, 1): exponential backoff, capped, then spread over ±50% so that
/// everyone dropped by one server restart doesn't come back in the same millisecond.
pub fn reconnect_delay_ms(attempt: u32, jitter: f64) -> f64 {
    let exponent = attempt.min(16) as i32;
    let base = (RECONNECT_FIRST_MS * 2f64.powi(exponent)).min(RECONNECT_MAX_MS);
    base * (0.5 + jitter.clamp(0.0, 1.0))
}

/// One line of chat.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatLine {
    pub from: String,
    pub text: String,
    pub mine: bool,
}

/// A camera or microphone the browser offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    pub id: String,
    pub label: String,
}

/// Which kind of input a device is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    Camera,
    Microphone,
}

/// A file on its way to or from the other person.
#[derive(Clone, Debug, PartialEq)]
pub struct Transfer {
    pub id: u32,
    pub name: String,
    pub size: u64,
    pub sending: bool,
    pub done_bytes: u64,
    pub state: TransferState,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TransferState {
    /// Checksumming before the first byte goes out.
    Preparing,
    Active,
    /// Complete; a received file has a download link.
    Done {
        url: Option<String>,
    },
    Cancelled,
    Failed(String),
}

impl TransferState {
    pub fn is_open(&self) -> bool {
        matches!(self, TransferState::Preparing | TransferState::Active)
    }
}

/// What the person asks of the running session.
#[derive(Clone, Debug)]
pub enum UiCommand {
    SendChat(String),
    ToggleMicrophone,
    ToggleCamera,
    /// Share a screen or window instead of the camera (from a click: browsers require one).
    ShareScreen,
    StopSharing,
    /// Switch to another camera or microphone, mid-call if need be.
    UseDevice(DeviceKind, String),
    /// Send a file to the other person (only the browser has files).
    #[cfg(feature = "hydrate")]
    SendFile(send_wrapper::SendWrapper<web_sys::File>),
    CancelTransfer(u32),
    HangUp,
    /// The call screen is going away (navigation): tear down without showing anything.
    Leave,
}

/// The signals and elements the session drives.
#[derive(Clone, Copy)]
pub struct CallView {
    pub status: RwSignal<CallStatus>,
    /// What is missing locally (camera, microphone) and why.
    pub media_note: RwSignal<Option<String>>,
    pub chat: RwSignal<Vec<ChatLine>>,
    pub chat_open: RwSignal<bool>,
    /// Name of the other person while one is in the room.
    pub remote_name: RwSignal<Option<String>>,
    /// The browser refused to start the remote audio without a click.
    pub needs_play: RwSignal<bool>,
    /// The connection to the server is down (the call itself may go on without it).
    pub server_lost: RwSignal<bool>,
    /// Something the person asked for did not work out (e.g. screen sharing refused).
    pub notice: RwSignal<Option<String>>,
    /// What we send: microphone on, camera on, screen shared instead of the camera.
    pub microphone_on: RwSignal<bool>,
    pub camera_on: RwSignal<bool>,
    pub sharing_screen: RwSignal<bool>,
    /// What the other side says it sends.
    pub remote_sends_audio: RwSignal<bool>,
    pub remote_sends_video: RwSignal<bool>,
    pub remote_shares_screen: RwSignal<bool>,
    /// The cameras and microphones to choose from, and the ones in use.
    pub cameras: RwSignal<Vec<Device>>,
    pub microphones: RwSignal<Vec<Device>>,
    pub camera_id: RwSignal<Option<String>>,
    pub microphone_id: RwSignal<Option<String>>,
    /// Files sent and received in this call, and the largest allowed.
    pub transfers: RwSignal<Vec<Transfer>>,
    pub max_file_bytes: RwSignal<u64>,
    /// The last second's figures, and the last minute's, while connected.
    pub stats: RwSignal<Option<CallStats>>,
    pub stats_history: RwSignal<History>,
    pub local_video: NodeRef<Video>,
    pub remote_video: NodeRef<Video>,
}

impl CallView {
    pub fn new() -> CallView {
        CallView {
            status: RwSignal::new(CallStatus::Starting),
            media_note: RwSignal::new(None),
            chat: RwSignal::new(Vec::new()),
            chat_open: RwSignal::new(false),
            remote_name: RwSignal::new(None),
            needs_play: RwSignal::new(false),
            server_lost: RwSignal::new(false),
            notice: RwSignal::new(None),
            microphone_on: RwSignal::new(true),
            camera_on: RwSignal::new(true),
            sharing_screen: RwSignal::new(false),
            remote_sends_audio: RwSignal::new(true),
            remote_sends_video: RwSignal::new(true),
            remote_shares_screen: RwSignal::new(false),
            cameras: RwSignal::new(Vec::new()),
            microphones: RwSignal::new(Vec::new()),
            camera_id: RwSignal::new(None),
            microphone_id: RwSignal::new(None),
            transfers: RwSignal::new(Vec::new()),
            max_file_bytes: RwSignal::new(crate::transfer::DEFAULT_MAX_FILE_BYTES),
            stats: RwSignal::new(None),
            stats_history: RwSignal::new(History::default()),
            local_video: NodeRef::new(),
            remote_video: NodeRef::new(),
        }
    }
}

impl CallView {
    /// Changes transfer `id` in place.
    pub fn update_transfer(&self, id: u32, change: impl FnOnce(&mut Transfer)) {
        self.transfers.update(|all| {
            if let Some(transfer) = all.iter_mut().find(|t| t.id == id) {
                change(transfer);
            }
        });
    }
}

impl Default for CallView {
    fn default() -> Self {
        CallView::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_delays_double_then_cap_and_spread() {
        let middle: Vec<f64> = (0..8).map(|n| reconnect_delay_ms(n, 0.5)).collect();
        assert_eq!(
            middle,
            [250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 8000.0, 8000.0]
        );
        assert_eq!(reconnect_delay_ms(0, 0.0), 125.0);
        assert!(reconnect_delay_ms(0, 0.999) < 375.0);
        assert_eq!(reconnect_delay_ms(u32::MAX, 1.0), 12_000.0);
        assert_eq!(
            reconnect_delay_ms(3, 2.0),
            3000.0,
            "jitter is clamped to [0, 1]"
        );
    }
}
