//! A recorded WebM's length, written into the file. `MediaRecorder` writes WebM as a live
//! stream: its `Segment` has no size and its `Info` no `Duration`, so players show no
//! length and cannot seek. Once the recording stops, [`with_duration`] rewrites the head of
//! the file (the first few hundred bytes) with the `Duration` added; the media after it is
//! untouched. Plain Rust, tested natively.

/// EBML element ids (with their length marker, as written).
const EBML: u32 = 0x1A45_DFA3;
const SEGMENT: u32 = 0x1853_8067;
const SEEK_HEAD: u32 = 0x114D_9B74;
const INFO: u32 = 0x1549_A966;
const CUES: u32 = 0x1C53_BB6B;
const CLUSTER: u32 = 0x1F43_B675;
const TIMECODE_SCALE: u32 = 0x2A_D7B1;
const DURATION: u32 = 0x4489;
/// What `TimecodeScale` is when absent: a millisecond, in nanoseconds.
const DEFAULT_TIMECODE_SCALE: u64 = 1_000_000;

/// Why a head could not be rewritten; the file is then kept as it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WebmError {
    #[error("the head ends before the segment's info")]
    Truncated,
    #[error("not a WebM file")]
    NotWebm,
    #[error("the segment indexes positions (SeekHead or Cues) that a longer head would move")]
    Indexed,
}

/// An element's id and size, and where its content starts.
struct Header {
    id: u32,
    /// `None`: unknown (a live stream's segment or cluster).
    size: Option<u64>,
    content: usize,
}

/// Reads a variable-length integer at `at`: its value (without the length marker unless
/// `keep_marker`) and its length in bytes.
fn vint(bytes: &[u8], at: usize, keep_marker: bool) -> Result<(u64, usize), WebmError> {
    let first = *bytes.get(at).ok_or(WebmError::Truncated)?;
    let length = first.leading_zeros() as usize + 1;
    if length > 8 {
        return Err(WebmError::NotWebm);
    }
    let tail = bytes.get(at + 1..at + length).ok_or(WebmError::Truncated)?;
    let head = if keep_marker {
        u64::from(first)
    } else {
        u64::from(first) & (0xFF >> length)
    };
    let value = tail.iter().fold(head, |v, b| (v << 8) | u64::from(*b));
    Ok((value, length))
}

impl Header {
    /// Where the element ends (it must have a size).
    fn end(&self) -> Result<usize, WebmError> {
        let size = usize::try_from(self.size.ok_or(WebmError::NotWebm)?)
            .map_err(|_| WebmError::NotWebm)?;
        self.content.checked_add(size).ok_or(WebmError::NotWebm)
    }
}

fn header(bytes: &[u8], at: usize) -> Result<Header, WebmError> {
    let (id, id_length) = vint(bytes, at, true)?;
    if id_length > 4 {
        return Err(WebmError::NotWebm);
    }
    let (size, size_length) = vint(bytes, at + id_length, false)?;
    // All ones: unknown size.
    let unknown = size == (1u64 << (7 * size_length)) - 1;
    Ok(Header {
        id: id as u32,
        size: (!unknown).then_some(size),
        content: at + id_length + size_length,
    })
}

/// An id as written (its bytes, leading zero bytes dropped).
fn id_bytes(id: u32) -> Vec<u8> {
    let bytes = id.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    bytes[skip..].to_vec()
}

/// A size as an 8-byte variable-length integer (any size fits).
fn size_bytes(size: u64) -> [u8; 8] {
    let mut bytes = size.to_be_bytes();
    bytes[0] = 0x01;
    bytes
}

/// `head` (the start of a WebM file, at least up to the end of its `Info`) with the
/// `Duration` set to `duration_ms`, in the file's own time unit.
pub fn with_duration(head: &[u8], duration_ms: f64) -> Result<Vec<u8>, WebmError> {
    let ebml = header(head, 0)?;
    if ebml.id != EBML {
        return Err(WebmError::NotWebm);
    }
    let segment_at = ebml.end()?;
    let segment = header(head, segment_at)?;
    if segment.id != SEGMENT {
        return Err(WebmError::NotWebm);
    }
    // The segment's children, up to its info.
    let mut at = segment.content;
    let info = loop {
        let child = header(head, at)?;
        match child.id {
            INFO => break child,
            SEEK_HEAD | CUES => return Err(WebmError::Indexed),
            CLUSTER => return Err(WebmError::NotWebm),
            _ => at = child.end()?,
        }
    };
    let info_at = at;
    let info_end = info.end()?;
    if info_end > head.len() {
        return Err(WebmError::Truncated);
    }
    // Info's children: the time unit is read, a Duration already there is dropped.
    let mut scale = DEFAULT_TIMECODE_SCALE;
    let mut kept = Vec::new();
    let mut at = info.content;
    while at < info_end {
        let child = header(head, at)?;
        let end = child.end()?;
        if end > info_end {
            return Err(WebmError::NotWebm);
        }
        let content = head.get(child.content..end).ok_or(WebmError::Truncated)?;
        match child.id {
            TIMECODE_SCALE => {
                scale = content.iter().fold(0, |v, b| (v << 8) | u64::from(*b));
                kept.extend_from_slice(&head[at..end]);
            }
            DURATION => {}
            _ => kept.extend_from_slice(&head[at..end]),
        }
        at = end;
    }
    let units = duration_ms * 1_000_000.0 / scale.max(1) as f64;
    kept.extend_from_slice(&id_bytes(DURATION));
    kept.push(0x88); // size 8
    kept.extend_from_slice(&units.to_be_bytes());

    let mut out = Vec::with_capacity(head.len() + 32);
    out.extend_from_slice(&head[..segment_at]);
    out.extend_from_slice(&id_bytes(SEGMENT));
    match segment.size {
        None => out.extend_from_slice(&[0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]),
        Some(size) => {
            let old_info = info_end - info_at;
            let new_info = id_bytes(INFO).len() + 8 + kept.len();
            let size = (size + new_info as u64)
                .checked_sub(old_info as u64)
                .ok_or(WebmError::NotWebm)?;
            out.extend_from_slice(&size_bytes(size));
        }
    }
    out.extend_from_slice(&head[segment.content..info_at]);
    out.extend_from_slice(&id_bytes(INFO));
    out.extend_from_slice(&size_bytes(kept.len() as u64));
    out.extend_from_slice(&kept);
    out.extend_from_slice(&head[info_end..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn element(id: u32, content: &[u8]) -> Vec<u8> {
        let mut out = id_bytes(id);
        out.push(0x80 | content.len() as u8);
        out.extend_from_slice(content);
        out
    }

    /// A head as Chromium's MediaRecorder writes it: EBML, a segment of unknown size,
    /// its info (time unit, muxer, writer), then the first cluster.
    fn chromium_head() -> Vec<u8> {
        let mut head = element(EBML, &element(0x4282, b"webm"));
        head.extend_from_slice(&[
            0x18, 0x53, 0x80, 0x67, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        ]);
        let mut info = element(TIMECODE_SCALE, &[0x0F, 0x42, 0x40]);
        info.extend(element(0x4D80, b"Chrome"));
        info.extend(element(0x5741, b"Chrome"));
        head.extend(element(INFO, &info));
        head.extend_from_slice(&[
            0x1F, 0x43, 0xB6, 0x75, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        ]);
        head.extend_from_slice(b"media");
        head
    }

    /// The Duration an edited head says, in milliseconds.
    fn duration_of(head: &[u8]) -> f64 {
        let at = head
            .windows(3)
            .position(|w| w == [0x44, 0x89, 0x88])
            .expect("a Duration");
        f64::from_be_bytes(head[at + 3..at + 11].try_into().expect("8 bytes"))
    }

    #[test]
    fn a_live_recordings_head_gets_its_duration_and_the_media_after_it_is_untouched() {
        let head = chromium_head();
        let edited = with_duration(&head, 8_318.0).expect("a WebM head");
        assert_eq!(duration_of(&edited), 8_318.0);
        assert!(edited.ends_with(b"media"));
        // Read back: the segment's info holds its three children and the duration.
        let segment = header(&edited, 12).expect("a segment");
        let info = header(&edited, segment.content).expect("the info");
        assert_eq!(info.id, INFO);
        let end = info.content + info.size.expect("a sized info") as usize;
        assert_eq!(header(&edited, end).expect("the cluster").id, CLUSTER);
        // Written again, it holds one duration, the new one.
        let again = with_duration(&edited, 9_000.0).expect("still a WebM head");
        assert_eq!(again.windows(2).filter(|w| *w == [0x44, 0x89]).count(), 1);
        assert_eq!(duration_of(&again), 9_000.0);
    }

    #[test]
    fn what_cannot_be_rewritten_safely_is_left_alone() {
        assert_eq!(with_duration(b"", 1.0), Err(WebmError::Truncated));
        assert_eq!(with_duration(b"RIFF....WAVE", 1.0), Err(WebmError::NotWebm));
        let head = chromium_head();
        assert_eq!(with_duration(&head[..30], 1.0), Err(WebmError::Truncated));
        // A segment with an index: growing the head would move what it points at.
        let mut indexed = head[..24].to_vec();
        indexed.extend(element(SEEK_HEAD, &[]));
        indexed.extend_from_slice(&head[24..]);
        assert_eq!(with_duration(&indexed, 1.0), Err(WebmError::Indexed));
        // Nothing in the head panics, whatever it holds.
        for cut in 0..head.len() {
            let _ = with_duration(&head[..cut], 1.0);
        }
        let _ = with_duration(&[0x1A, 0x45, 0xDF, 0xA3, 0xFF], 1.0);
        let _ = with_duration(&[0x00; 16], 1.0);
    }
}
