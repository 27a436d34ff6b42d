//! The words for what the model says in types (a refused name, a connection check's
//! findings), in the person's language: the catalogues' keys chosen by value, so no
//! sentence is built from English in the model or the components.

use crate::i18n::*;
use crate::mesh::network_check::{Advice, CheckFailed, Direct, Relay};
use crate::protocol::signaling::{InputError, MAX_NAME_CHARS, MAX_ROOM_CHARS};

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
