//! Waking idle workers the moment a job arrives, so pick-up does not wait for the next poll.
//!
//! In the distributed shape each push is announced on a Redis channel of its queue, which every
//! worker process subscribes to on a pub/sub connection of its own; in the embedded shape the
//! pusher rings the consumers of its own process. Polling stays as the fallback: an announcement
//! sent while a subscription was down, or a job pushed by another process on the same SQLite
//! file, is found at the next poll.

use crate::causes::Causes;
use std::{
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use futures::{Stream, StreamExt};
use tokio::{sync::watch, time::Sleep};
use tokio_stream::wrappers::WatchStream;
use tokio_util::sync::CancellationToken;

use super::RedisServer;

/// How long to wait before subscribing again after the subscription failed.
const RESUBSCRIBE_PAUSE: Duration = Duration::from_secs(1);
/// How long after a ring its echo comes: longer than a fetch takes, so the fetch a ring may have
/// raced is over.
const ECHO: Duration = Duration::from_millis(3);

/// One queue's bell: pushes ring it, and every consumer listening hears it. Rings that arrive
/// while a consumer is busy coalesce into one, which is all a consumer needs: it fetches a whole
/// batch when it looks.
#[derive(Clone)]
pub struct Bell(watch::Sender<()>);

impl Default for Bell {
    fn default() -> Self {
        Bell(watch::Sender::new(()))
    }
}

impl Bell {
    pub fn ring(&self) {
        self.0.send_replace(());
    }

    /// What one consumer hears from now on.
    pub fn listen(&self) -> Arrivals {
        Arrivals {
            rings: WatchStream::from_changes(self.0.subscribe()),
            echo: None,
        }
    }
}

/// One consumer's hearing of a bell: yields after each ring (or run of rings), and once more
/// shortly after. The echo is there because apalis spends a wake-up that comes while its fetch
/// is in flight on that fetch, which may have looked just before the job was there, and then
/// parks the consumer until the next wake-up; without the echo that job would wait for a poll.
pub struct Arrivals {
    rings: WatchStream<()>,
    echo: Option<Pin<Box<Sleep>>>,
}

impl Stream for Arrivals {
    type Item = ();

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<()>> {
        let this = &mut *self;
        if let Poll::Ready(Some(())) = this.rings.poll_next_unpin(cx) {
            this.echo = Some(Box::pin(tokio::time::sleep(ECHO)));
            return Poll::Ready(Some(()));
        }
        if let Some(echo) = &mut this.echo
            && echo.as_mut().poll(cx).is_ready()
        {
            this.echo = None;
            return Poll::Ready(Some(()));
        }
        // A bell outlives its listeners, so the rings never end; a quiet bell is just pending.
        Poll::Pending
    }
}

/// Until `shutdown`: rings each channel's bell when Redis publishes on it, and subscribes again
/// whenever the connection is lost.
pub async fn hear_redis(
    server: RedisServer,
    bells: Vec<(String, Bell)>,
    shutdown: CancellationToken,
) {
    loop {
        let heard = async {
            let client = server.client()?;
            let mut pubsub = client.get_async_pubsub().await?;
            for (channel, _) in &bells {
                pubsub.subscribe(channel).await?;
            }
            // Jobs pushed while nobody was subscribed would wait for the next poll: look now.
            for (_, bell) in &bells {
                bell.ring();
            }
            let mut notices = pubsub.into_on_message();
            while let Some(notice) = notices.next().await {
                if let Some((_, bell)) = bells
                    .iter()
                    .find(|(channel, _)| channel == notice.get_channel_name())
                {
                    bell.ring();
                }
            }
            Ok::<(), redis::RedisError>(())
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            result = heard => match result {
                Ok(()) => tracing::warn!("the queue's notices stopped; subscribing again"),
                Err(e) => tracing::warn!(error = %Causes(&e), "cannot hear the queue's notices; polling meanwhile"),
            },
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(RESUBSCRIBE_PAUSE) => {}
        }
    }
}
