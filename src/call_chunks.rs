//! The call screen's code, fetched while the person is still on the home page: the
//! server names the call route's chunk files in the home page (`<meta>`), and once the
//! page is idle or the person types, the browser asks for them at low priority, so Join
//! finds them in its cache. One contract for both sides, kept here.

/// The `name` of the `<meta>` whose `content` lists the files, space-separated.
pub const META: &str = "tandem-call-chunks";

/// The call route's files (`/pkg/…wasm`), as the server read them from the split manifest;
/// given to the page's shell as context.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallChunks(pub Vec<String>);

impl CallChunks {
    /// The `<meta>`'s content.
    pub fn content(&self) -> String {
        self.0.join(" ")
    }
}
