//! What is said above the call, once: what happened and to whom, as values. The words
//! are the catalogues' (`status.*`), chosen by the UI in the person's language; nothing
//! here is a sentence.

/// A notice: from the call's decisions ([`super::Effect::Notice`]) or from the browser
/// side (a device, the recorder, the pop-out). `why` is the browser's own error name
/// (`NotAllowedError`), shown as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// Someone here already had the name asked for: the server seated us as `given`.
    SeatedAs {
        asked: String,
        given: String,
    },
    YouAreHost,
    NewHost(String),
    /// As the host, letting someone into a full room: they wait on.
    RoomFullNoAdmit,
    OnlyTheHost,
    /// Someone's chat is coming faster than it is shown.
    ChatTooFast(String),
    /// The host (named) lowered our hand.
    HandLowered(String),
    /// Someone's verification code changed after we compared it.
    CodeChanged(String),
    /// Someone's browser sent a description or candidate that could not be used.
    Unusable(String),
    FilesNeedAConnection,
    /// Someone sent a chat line or frame past the limits.
    TooLong(String),
    /// A file over the size limit was not sent: its name, size and the limit in bytes.
    FileTooLarge {
        name: String,
        size: u64,
        limit: u64,
    },
    PopOutFailed(String),
    RecordingFailed(String),
    DeviceFailed(String),
    /// Screen sharing was refused or failed to start: the camera goes on.
    ShareNotStarted(String),
    /// The shared screen could not be put on the wire.
    ShareFailed(String),
}

/// What is missing locally and why, said for as long as it is so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MediaNote {
    /// The page is not a secure context: no camera or microphone at all.
    NotHere,
    /// The microphone only.
    AudioOnly(String),
    /// The camera only.
    NoMicrophone(String),
    /// Neither.
    NoMedia(String),
}
