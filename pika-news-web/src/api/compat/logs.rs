//! `log_text`: the end of a lane run's own log, as upstream's branch logs
//! carry it (upstream kept the whole lane log in its database; a lane log
//! here can be large, so the last [`LOG_TEXT_BYTES`] are sent, from a line
//! start, with a first line saying where the rest is).

use pikaci_store::{DiskFs, LogRange, read_chunk_at};

use crate::db::LaneRunId;
use crate::state::AppState;

/// How much of the end of a lane log `log_text` carries.
pub(crate) const LOG_TEXT_BYTES: u64 = 256 * 1024;

/// The end of a lane run's log; `None` when it has none (yet) or it cannot
/// be read (the cause is logged).
pub(crate) async fn lane_log_text(state: &AppState, lane: LaneRunId) -> Option<String> {
    let path = state.data_dir.as_ref()?.lane_log(lane);
    let read = tokio::task::spawn_blocking(move || {
        read_chunk_at(&DiskFs::new(), &path, LogRange::Tail(LOG_TEXT_BYTES))
    })
    .await;
    let chunk = match read {
        Ok(Ok(c)) if c.exists && c.total_size > 0 => c,
        Ok(Ok(_)) => return None,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, %lane, "reading a lane log for log_text failed");
            return None;
        }
        Err(e) => {
            tracing::warn!(error = %e, %lane, "a read task failed");
            return None;
        }
    };
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
