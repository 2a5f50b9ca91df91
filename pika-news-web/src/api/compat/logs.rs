//! `log_text`: the end of a lane run's own log, as upstream's branch logs
//! carry it (upstream kept the whole lane log in its database; a lane log
//! here can be large, so the last [`LOG_TEXT_BYTES`] are sent, from a line
//! start, with a first line saying where the rest is).

use crate::db::LaneRunId;
use crate::state::AppState;

/// How much of the end of a lane log `log_text` carries.
pub(crate) const LOG_TEXT_BYTES: u64 = 256 * 1024;

/// The end of a lane run's log; `None` when it has none (yet) or it cannot
/// be read (the cause is logged).
pub(crate) async fn lane_log_text(state: &AppState, lane: LaneRunId) -> Option<String> {
    let chunk = state.reads.lane_log_tail(lane, LOG_TEXT_BYTES).await?;
    Some(if chunk.offset == 0 {
        chunk.text
    } else {
        // From the first whole line; the partial one before it is left out too.
        let (skipped, rest) = match chunk.text.find('\n') {
            Some(i) => (chunk.offset + i as u64 + 1, &chunk.text[i + 1..]),
            None => (chunk.offset, chunk.text.as_str()),
        };
        format!(
            "[pika-news] {skipped} earlier bytes are left out: GET /news/api/forge/lane/{lane}/log reads them\n{rest}"
        )
    })
}
