//! The call's state as the call screen shows it. The browser-side session
//! (`client::session`) writes these signals; the components only read them.

use crate::mesh::meeting::{RaisedHand, ShownReaction};
use crate::mesh::notice::{MediaNote, Notice};
use crate::mesh::verify::NoCode;
use crate::mesh::{CallStatus, ChatLine, Person};
use crate::protocol::file::TransferError;
use crate::protocol::peer::Reaction;
use crate::protocol::signaling::{HostCommand, KnockId, PeerId};
use crate::stats::{CallStats, History, Sending};
use leptos::html::Video;
use leptos::prelude::*;

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

/// The browser's processing of the microphone's sound, as the person switched it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sound {
    pub noise_suppression: bool,
    pub echo_cancellation: bool,
    pub auto_gain: bool,
}

impl Default for Sound {
    /// All on: what browsers do unless told otherwise.
    fn default() -> Self {
        Sound {
            noise_suppression: true,
            echo_cancellation: true,
            auto_gain: true,
        }
    }
}

/// What the browser says it applies to the microphone (`getSettings()`): `None` where
/// it does not say.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SoundApplied {
    pub noise_suppression: Option<bool>,
    pub echo_cancellation: Option<bool>,
    pub auto_gain: Option<bool>,
}

impl SoundApplied {
    /// Whether the browser applies what was asked (where it says).
    pub fn matches(&self, sound: Sound) -> bool {
        let agrees = |applied: Option<bool>, want: bool| applied.is_none_or(|a| a == want);
        agrees(self.noise_suppression, sound.noise_suppression)
            && agrees(self.echo_cancellation, sound.echo_cancellation)
            && agrees(self.auto_gain, sound.auto_gain)
    }
}

/// This person's recording, while it runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Recording {
    /// Time recorded (pauses left out).
    pub elapsed_ms: f64,
    pub bytes: u64,
    pub paused: bool,
}

/// A finished recording, offered for saving.
#[derive(Clone, Debug, PartialEq)]
pub struct SavedRecording {
    pub url: String,
    pub name: String,
    pub bytes: u64,
}

/// A file on its way to or from one other person.
#[derive(Clone, Debug, PartialEq)]
pub struct Transfer {
    pub id: u32,
    pub name: String,
    /// Who it goes to or comes from.
    pub peer: String,
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
    Failed(TransferFailure),
}

/// The pop-out window's words, in the person's language (the window is built by hand).
#[derive(Clone, Debug, PartialEq)]
pub struct PopOutWords {
    pub title: String,
    pub mute: String,
    pub hang_up: String,
}

/// Why a transfer failed, worded by the UI with the file's and the person's names.
#[derive(Clone, Debug, PartialEq)]
pub enum TransferFailure {
    /// Our checks, as the receiver.
    Here(TransferError),
    /// The receiver's verdict: what it found, or its own words when it named nothing this
    /// version knows.
    Theirs(Result<TransferError, String>),
    /// Our file could not be read, as the sender.
    Unreadable,
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
    /// Record the call as this person sees it; pause, resume, stop (and offer the file).
    StartRecording,
    PauseRecording,
    ResumeRecording,
    StopRecording,
    /// Switch the browser's noise suppression, echo cancellation and automatic gain.
    SetSound(Sound),
    /// Switch to another camera or microphone, mid-call if need be.
    UseDevice(DeviceKind, String),
    /// Send a file to the other person (only the browser has files).
    #[cfg(feature = "hydrate")]
    SendFile(send_wrapper::SendWrapper<web_sys::File>),
    CancelTransfer(u32),
    /// Start the others' sound (after a click, where the browser refused autoplay).
    PlayAudio,
    /// This person's tile is on screen: show their stream in its video element.
    #[cfg(feature = "hydrate")]
    ShowVideo(PeerId, send_wrapper::SendWrapper<web_sys::HtmlVideoElement>),
    HangUp,
    /// The call screen is going away (navigation): tear down without showing anything.
    Leave,
    /// Raise this person's hand, or lower it.
    ToggleHand,
    /// As the host: ask this person to lower their hand.
    LowerHand(PeerId),
    /// Float a reaction over this person's tile, at every page.
    React(Reaction),
    /// Take the call back from the tab or device that took it.
    TakeBack,
    /// Show the code that proves nobody is in the middle of the connection to this person.
    Verify(PeerId),
    /// The code was compared by voice and matched: mark this person verified.
    MarkVerified(PeerId),
    /// As the host: hand the role on, remove or ask someone to mute, lock the room,
    /// answer a knock.
    Host(HostCommand),
}

/// The signals and elements the session drives.
#[derive(Clone, Copy)]
pub struct CallState {
    pub status: RwSignal<CallStatus>,
    /// What is missing locally (camera, microphone) and why.
    pub media_note: RwSignal<Option<MediaNote>>,
    pub chat: RwSignal<Vec<ChatLine>>,
    pub chat_open: RwSignal<bool>,
    /// Everyone else in the room, in the order they arrived.
    pub people: RwSignal<Vec<Person>>,
    /// Raised hands, in the order they went up (ours among them).
    pub hands: RwSignal<Vec<RaisedHand>>,
    /// The reactions floating over tiles now, oldest first.
    pub reactions: RwSignal<Vec<ShownReaction>>,
    /// Who is speaking (their tile is outlined).
    pub speaking: RwSignal<Option<PeerId>>,
    /// The browser refused to start the remote audio without a click.
    pub needs_play: RwSignal<bool>,
    /// A remote video element has started playing (a picture, or with the camera off,
    /// sound): the call has really begun.
    pub remote_playing: RwSignal<bool>,
    /// The connection to the server is down (the call itself may go on without it).
    pub server_lost: RwSignal<bool>,
    /// Something the person asked for did not work out (e.g. screen sharing refused).
    pub notice: RwSignal<Option<Notice>>,
    /// The name the server seated us under, once it differs from the one asked for
    /// (someone in the room already had it: "Alice (2)").
    pub seated_as: RwSignal<Option<String>>,
    /// What we send: microphone on, camera on, screen shared instead of the camera.
    pub microphone_on: RwSignal<bool>,
    /// The person is muted and their microphone picks up speech: "You are muted".
    pub speaking_while_muted: RwSignal<bool>,
    pub camera_on: RwSignal<bool>,
    pub sharing_screen: RwSignal<bool>,
    /// The cameras and microphones to choose from, and the ones in use.
    pub cameras: RwSignal<Vec<Device>>,
    pub microphones: RwSignal<Vec<Device>>,
    pub camera_id: RwSignal<Option<String>>,
    pub microphone_id: RwSignal<Option<String>>,
    /// The sound processing the person asked for, and what the browser applies.
    pub sound: RwSignal<Sound>,
    pub sound_applied: RwSignal<Option<SoundApplied>>,
    /// This person's recording while it runs, and the recordings made in this call.
    pub recording: RwSignal<Option<Recording>>,
    pub recordings: RwSignal<Vec<SavedRecording>>,
    /// Files sent and received in this call, and the largest allowed.
    pub transfers: RwSignal<Vec<Transfer>>,
    pub max_file_bytes: RwSignal<u64>,
    /// Whose connection the stats panel shows (the first person's until one is picked),
    /// and the last second's figures and the last minute's for it.
    pub stats_of: RwSignal<Option<PeerId>>,
    pub stats: RwSignal<Option<CallStats>>,
    pub stats_history: RwSignal<History>,
    /// What we send to everyone, e.g. "640×360 at 600 kbit/s to each of 3 people", and
    /// the whole upload.
    pub sending: RwSignal<Option<Sending>>,
    pub upload_kbps: RwSignal<Option<f64>>,
    /// The upload budget shared among them, in bits per second.
    pub upload_budget: RwSignal<u64>,
    /// Who a file goes to: one person, or everyone (`None`).
    pub send_to: RwSignal<Option<PeerId>>,
    /// The verification code shown for one person, while its panel is open.
    pub verifying: RwSignal<Option<Verifying>>,
    /// Who hosts the room (maybe us), and whether we do.
    pub host: RwSignal<Option<PeerId>>,
    pub is_host: RwSignal<bool>,
    /// The host (named) asked us to mute, until the person answers.
    pub mute_request: RwSignal<Option<String>>,
    /// Whether the room is locked, and (for the host) who waits at its door.
    pub locked: RwSignal<bool>,
    pub knocks: RwSignal<Vec<(KnockId, String)>>,
    pub local_video: NodeRef<Video>,
}

/// The code of one connection, to compare by voice (see `mesh::verify`).
#[derive(Clone, Debug, PartialEq)]
pub struct Verifying {
    pub id: PeerId,
    pub name: String,
    /// The code, or why there is none yet (e.g. the connection is not negotiated).
    pub code: Result<String, NoCode>,
}

impl CallState {
    pub fn new() -> CallState {
        CallState {
            status: RwSignal::new(CallStatus::Starting),
            media_note: RwSignal::new(None),
            chat: RwSignal::new(Vec::new()),
            chat_open: RwSignal::new(false),
            people: RwSignal::new(Vec::new()),
            hands: RwSignal::new(Vec::new()),
            reactions: RwSignal::new(Vec::new()),
            speaking: RwSignal::new(None),
            needs_play: RwSignal::new(false),
            remote_playing: RwSignal::new(false),
            server_lost: RwSignal::new(false),
            notice: RwSignal::new(None),
            seated_as: RwSignal::new(None),
            microphone_on: RwSignal::new(true),
            speaking_while_muted: RwSignal::new(false),
            camera_on: RwSignal::new(true),
            sharing_screen: RwSignal::new(false),
            cameras: RwSignal::new(Vec::new()),
            microphones: RwSignal::new(Vec::new()),
            camera_id: RwSignal::new(None),
            microphone_id: RwSignal::new(None),
            sound: RwSignal::new(Sound::default()),
            sound_applied: RwSignal::new(None),
            recording: RwSignal::new(None),
            recordings: RwSignal::new(Vec::new()),
            transfers: RwSignal::new(Vec::new()),
            max_file_bytes: RwSignal::new(crate::protocol::file::DEFAULT_MAX_FILE_BYTES),
            stats_of: RwSignal::new(None),
            stats: RwSignal::new(None),
            stats_history: RwSignal::new(History::default()),
            sending: RwSignal::new(None),
            upload_kbps: RwSignal::new(None),
            upload_budget: RwSignal::new(crate::protocol::signaling::DEFAULT_UPLOAD_BUDGET),
            send_to: RwSignal::new(None),
            verifying: RwSignal::new(None),
            host: RwSignal::new(None),
            is_host: RwSignal::new(false),
            mute_request: RwSignal::new(None),
            locked: RwSignal::new(false),
            knocks: RwSignal::new(Vec::new()),
            local_video: NodeRef::new(),
        }
    }
}

impl CallState {
    /// Changes transfer `id` in place.
    pub fn update_transfer(&self, id: u32, change: impl FnOnce(&mut Transfer)) {
        self.transfers.update(|all| {
            if let Some(transfer) = all.iter_mut().find(|t| t.id == id) {
                change(transfer);
            }
        });
    }
}

impl Default for CallState {
    fn default() -> Self {
        CallState::new()
    }
}
