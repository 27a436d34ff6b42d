//! The words for what the model says in types (a refused name, a connection check's
//! findings), in the person's language: the catalogues' keys chosen by value, so no
//! sentence is built from English in the model or the components.

use crate::call_state::TransferFailure;
use crate::i18n::*;
use crate::mesh::network_check::{Advice, CheckFailed, Direct, Relay};
use crate::mesh::notice::{MediaNote, Notice};
use crate::mesh::verify::NoCode;
use crate::mesh::CallStatus;
use crate::protocol::file::{human_bytes, TransferError};
use crate::protocol::signaling::{ErrorCode, InputError, MAX_NAME_CHARS, MAX_ROOM_CHARS};
use crate::stats::{format_bitrate, CandidatePath, PathKind, Sending};

/// What is wrong with a typed name or room key; or that no room key could be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldProblem {
    Input(InputError),
    /// The browser gives no secure random numbers for a fresh room key.
    NoRandom,
}

pub fn field_problem(locale: Locale, problem: FieldProblem) -> String {
    let max_name = MAX_NAME_CHARS;
    let max_room = MAX_ROOM_CHARS;
    match problem {
        FieldProblem::Input(InputError::NameEmpty) => td_string!(locale, common.name_empty).into(),
        FieldProblem::Input(InputError::NameTooLong) => {
            td_string!(locale, common.name_too_long, max = max_name).to_string()
        }
        FieldProblem::Input(InputError::NameControlChars) => {
            td_string!(locale, common.name_control).into()
        }
        FieldProblem::Input(InputError::NameInvisibleChars) => {
            td_string!(locale, common.name_invisible).into()
        }
        FieldProblem::Input(InputError::RoomEmpty) => td_string!(locale, common.room_empty).into(),
        FieldProblem::Input(InputError::RoomTooLong) => {
            td_string!(locale, common.room_too_long, max = max_room).to_string()
        }
        FieldProblem::Input(InputError::RoomChars) => td_string!(locale, common.room_chars).into(),
        FieldProblem::NoRandom => td_string!(locale, common.no_random).into(),
    }
}

pub fn direct(locale: Locale, direct: Direct) -> &'static str {
    match direct {
        Direct::Likely => td_string!(locale, home.direct_likely),
        Direct::LocalOnly => td_string!(locale, home.direct_local),
        Direct::Blocked => td_string!(locale, home.direct_blocked),
        Direct::Offline => td_string!(locale, home.direct_offline),
    }
}

pub fn relay(locale: Locale, relay: Relay) -> String {
    match relay {
        Relay::Answers { round_trip_ms } => {
            let ms = round_trip_ms.round().max(1.0);
            td_string!(locale, home.relay_answers, ms).to_string()
        }
        Relay::Silent => td_string!(locale, home.relay_silent).into(),
        Relay::None => td_string!(locale, home.relay_none).into(),
    }
}

pub fn advice(locale: Locale, advice: Advice) -> &'static str {
    match advice {
        Advice::GoOnline => td_string!(locale, home.advice_offline),
        Advice::TryAnotherNetwork => td_string!(locale, home.advice_silent),
        Advice::AskForARelay => td_string!(locale, home.advice_none),
    }
}

pub fn check_failed(locale: Locale, why: CheckFailed) -> &'static str {
    match why {
        CheckFailed::ServerUnreachable => td_string!(locale, home.check_no_server),
        CheckFailed::NoWebRtc => td_string!(locale, home.check_no_webrtc),
        CheckFailed::WouldNotStart => td_string!(locale, home.check_no_start),
    }
}

/// The status line: each part a sentence of its own ("Carol left the call. Connected
/// with Bob and Dave."), names listed by the language's rules.
pub fn status(locale: Locale, status: &CallStatus) -> String {
    let left = |name: &Option<String>| {
        name.as_ref()
            .map(|name| td_string!(locale, status.left, name).to_string())
    };
    match status {
        CallStatus::Starting => td_string!(locale, status.starting).into(),
        CallStatus::Joining => td_string!(locale, status.joining).into(),
        CallStatus::Waiting { left: who } => left(who)
            .into_iter()
            .chain([td_string!(locale, status.waiting).to_owned()])
            .collect::<Vec<_>>()
            .join(" "),
        CallStatus::InCall {
            left: who,
            connected,
            connecting,
            interrupted,
            failed,
        } => {
            let mut parts: Vec<String> = left(who).into_iter().collect();
            if !connected.is_empty() {
                let names = connected.iter().map(String::as_str);
                parts.push(td_string!(locale, status.connected, names).to_string());
            }
            if !connecting.is_empty() {
                let names = connecting.iter().map(String::as_str);
                parts.push(td_string!(locale, status.connecting, names).to_string());
            }
            if !interrupted.is_empty() {
                let names = interrupted.iter().map(String::as_str);
                parts.push(td_string!(locale, status.interrupted, names).to_string());
            }
            for (name, why) in failed {
                parts.push(td_string!(locale, status.could_not_connect, name, why).to_string());
            }
            parts.join(" ")
        }
        CallStatus::Busy => td_string!(locale, status.busy).into(),
        CallStatus::OpenElsewhere => td_string!(locale, status.open_elsewhere).into(),
        CallStatus::Removed(by) => {
            let name = by
                .clone()
                .unwrap_or_else(|| td_string!(locale, status.the_host).to_owned());
            td_string!(locale, status.removed, name).to_string()
        }
        CallStatus::Knocking(name) => td_string!(locale, status.knocking, name).to_string(),
        CallStatus::NotLetIn { why, host } => match (why, host) {
            (ErrorCode::KnockDenied, Some(name)) => {
                td_string!(locale, status.not_let_in_denied_by, name).to_string()
            }
            (ErrorCode::KnockDenied, None) => td_string!(locale, status.not_let_in_denied).into(),
            (ErrorCode::KnockExpired, _) => td_string!(locale, status.not_let_in_expired).into(),
            _ => td_string!(locale, status.not_let_in_locked).into(),
        },
        CallStatus::RoomFull => td_string!(locale, status.room_full).into(),
        CallStatus::Failed(code) => match code {
            ErrorCode::InvalidRoom => td_string!(locale, status.failed_room).into(),
            ErrorCode::InvalidName => td_string!(locale, status.failed_name).into(),
            ErrorCode::BadName => td_string!(locale, status.failed_bad_name).into(),
            other => td_string!(locale, status.failed_other, code = other.name()).to_string(),
        },
        CallStatus::Ended => td_string!(locale, status.ended).into(),
    }
}

pub fn notice(locale: Locale, notice: &Notice) -> String {
    match notice {
        Notice::SeatedAs { asked, given } => {
            td_string!(locale, status.seated_as, asked, given).to_string()
        }
        Notice::YouAreHost => td_string!(locale, status.you_are_host).into(),
        Notice::NewHost(name) => td_string!(locale, status.new_host, name).to_string(),
        Notice::RoomFullNoAdmit => td_string!(locale, status.room_full_no_admit).into(),
        Notice::OnlyTheHost => td_string!(locale, status.only_host).into(),
        Notice::ChatTooFast(name) => td_string!(locale, status.chat_too_fast, name).to_string(),
        Notice::HandLowered(name) => td_string!(locale, status.hand_lowered, name).to_string(),
        Notice::CodeChanged(name) => td_string!(locale, status.code_changed, name).to_string(),
        Notice::Unusable(name) => td_string!(locale, status.unusable, name).to_string(),
        Notice::FilesNeedAConnection => td_string!(locale, status.files_need_connection).into(),
        Notice::TooLong(name) => td_string!(locale, status.too_long, name).to_string(),
        Notice::FileTooLarge { name, size, limit } => {
            let (size, limit) = (bytes(locale, *size), bytes(locale, *limit));
            td_string!(locale, status.file_too_large, name, size, limit).to_string()
        }
        Notice::PopOutFailed(why) => td_string!(locale, status.pop_out_failed, why).to_string(),
        Notice::RecordingFailed(why) => {
            td_string!(locale, status.recording_failed, why).to_string()
        }
        Notice::DeviceFailed(why) => td_string!(locale, status.device_failed, why).to_string(),
        Notice::ShareNotStarted(why) => {
            td_string!(locale, status.share_not_started, why).to_string()
        }
        Notice::ShareFailed(why) => td_string!(locale, status.share_failed, why).to_string(),
    }
}

pub fn no_code(locale: Locale, why: &NoCode) -> &'static str {
    match why {
        NoCode::NotConnected => td_string!(locale, status.no_code_not_connected),
        NoCode::SettingUp => td_string!(locale, status.no_code_setting_up),
        NoCode::Unreadable(_) => td_string!(locale, status.no_code_unreadable),
    }
}

/// A size: "96 bytes", "2.0 MiB" (binary units, as limits like 1 GiB are).
pub fn bytes(locale: Locale, count: u64) -> String {
    if count < 1024 {
        td_string!(locale, status.bytes, count).to_string()
    } else {
        human_bytes(count)
    }
}

/// Why a file did not arrive: `file` is its name, `peer` who it is from (or for).
pub fn transfer_failure(
    locale: Locale,
    failure: &TransferFailure,
    file: &str,
    peer: &str,
) -> String {
    let found = |why: &TransferError, sender: &str| -> String {
        match *why {
            TransferError::TooLarge { size, limit } => {
                let (size, limit) = (bytes(locale, size), bytes(locale, limit));
                td_string!(locale, status.file_refused_size, size, limit).to_string()
            }
            TransferError::Corrupt => td_string!(locale, status.file_damaged).into(),
            TransferError::WrongSize { got, expected } => {
                td_string!(locale, status.file_wrong_size, got, expected).to_string()
            }
            TransferError::NotAFile => td_string!(locale, status.file_not_a_file).into(),
            TransferError::MoreThanAnnounced => {
                td_string!(locale, status.file_more_than_announced, name = sender).to_string()
            }
            TransferError::Unexpected => td_string!(locale, status.file_unexpected).into(),
            TransferError::NotKept => td_string!(locale, status.file_not_kept).into(),
            TransferError::NotOffered => td_string!(locale, status.file_not_offered).into(),
        }
    };
    match failure {
        TransferFailure::Here(why) => found(why, peer),
        TransferFailure::Theirs(said) => {
            let why = match said {
                // What they found: we sent more than we said, as they saw it.
                Ok(why) => found(why, td_string!(locale, call.you)),
                Err(their_words) => their_words.clone(),
            };
            td_string!(locale, status.file_they_said, why).to_string()
        }
        TransferFailure::Unreadable => td_string!(locale, status.file_unreadable, file).to_string(),
    }
}

/// The network path in use, for the stats panel.
pub fn path(locale: Locale, path: &CandidatePath) -> String {
    let protocol = path.transport();
    match path.kind() {
        PathKind::Direct => td_string!(locale, status.path_direct, protocol).to_string(),
        PathKind::ThroughNat => td_string!(locale, status.path_nat, protocol).to_string(),
        PathKind::Relayed(Some(relay)) => {
            td_string!(locale, status.path_relay_via, protocol, relay).to_string()
        }
        PathKind::Relayed(None) => td_string!(locale, status.path_relay, protocol).to_string(),
        PathKind::Other(kind) => td_string!(locale, status.path_other, kind, protocol).to_string(),
    }
}

/// What we send, for the stats panel: "640×360 at 600 kbit/s to each of 3 people".
pub fn sending(locale: Locale, sending: &Sending) -> String {
    let rate = format_bitrate(sending.each_kbps);
    let what = match sending.frame {
        Some((w, h)) => {
            let frame = format!("{w}×{h}");
            td_string!(locale, status.frame_at_rate, frame, rate).to_string()
        }
        None => rate,
    };
    let count = sending.receivers;
    td_string!(locale, status.sending_to, what, count).to_string()
}

pub fn media_note(locale: Locale, note: &MediaNote) -> String {
    match note {
        MediaNote::NotHere => td_string!(locale, status.no_camera_here).into(),
        MediaNote::AudioOnly(why) => td_string!(locale, status.audio_only, why).to_string(),
        MediaNote::NoMicrophone(why) => td_string!(locale, status.no_microphone, why).to_string(),
        MediaNote::NoMedia(why) => td_string!(locale, status.no_media, why).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_call(connected: &[&str], connecting: &[&str]) -> CallStatus {
        CallStatus::InCall {
            left: Some("Dan".into()),
            connected: connected.iter().map(|n| n.to_string()).collect(),
            connecting: connecting.iter().map(|n| n.to_string()).collect(),
            interrupted: Vec::new(),
            failed: Vec::new(),
        }
    }

    #[test]
    fn the_status_line_lists_names_by_each_languages_rules() {
        let status = in_call(&["Alice", "Bob", "Carol"], &["Eve"]);
        assert_eq!(
            super::status(Locale::en_GB, &status),
            "Dan left the call. Connected with Alice, Bob and Carol. Connecting to Eve…"
        );
        assert_eq!(
            super::status(Locale::de, &status),
            "Dan hat das Gespräch verlassen. Verbunden mit Alice, Bob und Carol. \
             Verbindung mit Eve wird aufgebaut…"
        );
        assert_eq!(
            super::status(Locale::fr, &status),
            "Dan a quitté l’appel. Connecté avec Alice, Bob et Carol. Connexion avec Eve…"
        );
        // Spanish "y" becomes "e" before an i sound.
        assert_eq!(
            super::status(Locale::es, &in_call(&["Bob", "Isabel"], &[])),
            "Dan ha salido de la llamada. Conectado con Bob e Isabel."
        );
    }

    #[test]
    fn a_refusal_is_worded_from_its_code_with_the_hosts_name_when_known() {
        let denied = |host: Option<&str>| CallStatus::NotLetIn {
            why: ErrorCode::KnockDenied,
            host: host.map(str::to_owned),
        };
        assert_eq!(
            super::status(Locale::en_GB, &denied(Some("Alice"))),
            "Alice did not let you in."
        );
        assert_eq!(
            super::status(Locale::de, &denied(None)),
            "Der Host hat Sie nicht hereingelassen."
        );
        assert_eq!(
            super::status(Locale::fr, &CallStatus::Removed(None)),
            "L’hôte vous a retiré de l’appel."
        );
        assert_eq!(
            notice(Locale::es, &Notice::HandLowered("Ana".into())),
            "Ana ha bajado tu mano."
        );
        assert_eq!(
            field_problem(Locale::fr, FieldProblem::Input(InputError::NameTooLong)),
            format!("Votre nom ne peut pas dépasser {MAX_NAME_CHARS} caractères.")
        );
    }
}
