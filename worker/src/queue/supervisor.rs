//! One AMQP connection, kept alive by us. A background task watches it and rebuilds it (with
//! capped exponential backoff and jitter) after a broker restart or a cut link, declaring the
//! topology again each time. Users ask for channels; a dead connection is replaced, never
//! panicked on. Heartbeats are 15 s unless the URL sets its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use lapin::{Channel, Connection, ConnectionProperties};
use tokio::sync::Mutex;

use super::Topology;

const BACKOFF_MIN: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(10);
const WATCH_EVERY: Duration = Duration::from_secs(1);

pub struct Supervisor {
    url: String,
    topology: Topology,
    conn: Mutex<Option<Arc<Connection>>>,
    connected: AtomicBool,
    generation: AtomicU64,
}

impl Supervisor {
    pub fn new(url: impl Into<String>, topology: Topology) -> Self {
        let mut url = url.into();
        if !url.contains("heartbeat=") {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str("heartbeat=15");
        }
        Self {
            url,
            topology,
            conn: Mutex::new(None),
            connected: AtomicBool::new(false),
            generation: AtomicU64::new(0),
        }
    }

    /// Keep a connection up in the background (so readiness reflects the broker).
    pub fn start(self: &Arc<Self>) {
        let this = Arc::downgrade(self);
        tokio::spawn(async move {
            while let Some(sup) = this.upgrade() {
                let _ = sup.connection().await;
                drop(sup);
                tokio::time::sleep(WATCH_EVERY).await;
            }
        });
    }

    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// Increases each time a new connection is made: consumers use it to notice a reconnect.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// The live connection, reconnecting (and waiting) as long as it takes.
    pub async fn connection(&self) -> Arc<Connection> {
        let mut guard = self.conn.lock().await;
        if let Some(c) = guard.as_ref() {
            if c.status().connected() {
                return c.clone();
            }
            tracing::warn!("AMQP connection lost; reconnecting");
        }
        self.connected.store(false, Ordering::Relaxed);
        *guard = None;
        let mut delay = BACKOFF_MIN;
        loop {
            match self.connect_once().await {
                Ok(c) => {
                    let c = Arc::new(c);
                    *guard = Some(c.clone());
                    self.generation.fetch_add(1, Ordering::Relaxed);
                    self.connected.store(true, Ordering::Relaxed);
                    tracing::info!("AMQP connected, topology declared");
                    return c;
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "AMQP connect failed");
                    tokio::time::sleep(jitter(delay)).await;
                    delay = (delay * 2).min(BACKOFF_MAX);
                }
            }
        }
    }

    async fn connect_once(&self) -> lapin::Result<Connection> {
        let props = ConnectionProperties::default()
            .with_connection_name(format!("fieldsurvey-{}", std::process::id()).into());
        let conn = tokio::time::timeout(
            Duration::from_secs(10),
            Connection::connect(&self.url, props),
        )
        .await
        .map_err(|_| {
            lapin::Error::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "connect timed out",
            ))
        })??;
        let ch = conn.create_channel().await?;
        self.topology.declare(&ch).await?;
        let _ = ch.close(200, "topology declared".into()).await;
        Ok(conn)
    }

    /// A fresh channel on the live connection. Retries until it gets one.
    pub async fn channel(&self) -> Channel {
        let mut delay = BACKOFF_MIN;
        loop {
            let conn = self.connection().await;
            match conn.create_channel().await {
                Ok(ch) => return ch,
                Err(e) => {
                    tracing::warn!(error = %e, "AMQP channel failed; reconnecting");
                    self.invalidate(&conn).await;
                    tokio::time::sleep(jitter(delay)).await;
                    delay = (delay * 2).min(BACKOFF_MAX);
                }
            }
        }
    }

    /// Drop `conn` if it is still the current one, so the next user reconnects.
    pub async fn invalidate(&self, conn: &Arc<Connection>) {
        let mut guard = self.conn.lock().await;
        if guard.as_ref().is_some_and(|c| Arc::ptr_eq(c, conn)) {
            self.connected.store(false, Ordering::Relaxed);
            *guard = None;
        }
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }
}

fn jitter(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.subsec_nanos())
        .unwrap_or(0);
    d + d.mul_f64(f64::from(nanos % 1000) / 4000.0)
}
