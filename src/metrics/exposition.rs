//! A `/metrics` response: the tenant series then the telemetry, in the
//! text format or (for a scraper that asks for it) the protobuf format
//! with native histograms, plain or gzip, rendered off the runtime, and
//! shared by the scrapes that arrive while it is being rendered (single
//! flight, per encoding), so a burst of scrapes costs one render's memory,
//! not one per scrape.

use std::io::{self, BufWriter, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use axum::body::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use tokio::sync::watch;

use super::telemetry::{Encoding, Telemetry};
use super::tenant_series;
use crate::fleet::Fleet;
use crate::memory::release_freed_memory;

/// The result of one render, shared by every scrape that waited for it.
pub type Rendered = Result<Bytes, Arc<str>>;

/// Renders `/metrics` for the fleet and the process.
#[derive(Debug)]
pub struct Exposition {
    fleet: Arc<Fleet>,
    telemetry: Arc<Telemetry>,
    /// The render in progress per encoding ([`Encoding::ALL`] order), if
    /// any: a scrape that arrives meanwhile waits for its result instead
    /// of starting another.
    in_flight: [Mutex<Option<watch::Receiver<Option<Rendered>>>>; 4],
    /// Size of the last uncompressed render per format (text, protobuf),
    /// so the next one allocates its buffer once instead of doubling its
    /// way there.
    last_plain_bytes: [AtomicUsize; 2],
}

impl Exposition {
    /// An exposition of `fleet`'s records and `telemetry`.
    pub fn new(fleet: Arc<Fleet>, telemetry: Arc<Telemetry>) -> Arc<Exposition> {
        Arc::new(Exposition {
            fleet,
            telemetry,
            in_flight: Default::default(),
            last_plain_bytes: Default::default(),
        })
    }

    /// The response body for `encoding`: the render in progress when one
    /// is, else a new one. The render runs on a blocking thread and
    /// finishes even if every scrape waiting for it goes away.
    pub async fn scrape(self: &Arc<Self>, encoding: Encoding) -> Rendered {
        let slot = &self.in_flight[encoding as usize];
        let mut result = {
            let mut current = slot.lock().unwrap_or_else(PoisonError::into_inner);
            match &*current {
                Some(waiting) => waiting.clone(),
                None => {
                    let (done, waiting) = watch::channel(None);
                    *current = Some(waiting.clone());
                    let this = Arc::clone(self);
                    tokio::task::spawn_blocking(move || {
                        let rendered = this.render_timed(encoding);
                        let mut current = this.in_flight[encoding as usize]
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner);
                        *current = None;
                        // Every receiver may be gone; the render is then unused.
                        let _ = done.send(Some(rendered));
                    });
                    waiting
                }
            }
        };
        match result.wait_for(Option::is_some).await {
            Ok(rendered) => rendered.clone().expect("waited for Some"),
            Err(_) => Err(Arc::from("the render ended without a result")),
        }
    }

    fn render_timed(&self, encoding: Encoding) -> Rendered {
        let started = Instant::now();
        let rendered = self.render(encoding);
        release_freed_memory();
        match rendered {
            Ok(body) => {
                self.telemetry
                    .observe_scrape(encoding, started.elapsed(), body.len());
                Ok(Bytes::from_owner(TrimmedOnDrop(body)))
            }
            Err(error) => {
                tracing::error!(%error, "cannot render metrics");
                Err(Arc::from(error.to_string()))
            }
        }
    }

    /// Renders the whole response now, on this thread.
    pub fn render(&self, encoding: Encoding) -> io::Result<Vec<u8>> {
        let protobuf = encoding.is_protobuf();
        if encoding.is_gzip() {
            // The encoder is given many tiny pieces: buffer them, or
            // deflate runs once per label value.
            let encoder = GzEncoder::new(Vec::with_capacity(256 * 1024), Compression::fast());
            let mut buffered = BufWriter::with_capacity(128 * 1024, encoder);
            self.write_to(protobuf, &mut buffered)?;
            buffered.into_inner().map_err(|e| e.into_error())?.finish()
        } else {
            let last_bytes = &self.last_plain_bytes[usize::from(protobuf)];
            let last = last_bytes.load(Ordering::Relaxed);
            let mut body = Vec::with_capacity((last + last / 16).max(64 * 1024));
            self.write_to(protobuf, &mut body)?;
            last_bytes.store(body.len(), Ordering::Relaxed);
            Ok(body)
        }
    }

    /// Writes the exposition, tenant series then telemetry, in the text
    /// format or the protobuf format.
    pub fn write_to<W: Write>(&self, protobuf: bool, out: &mut W) -> io::Result<()> {
        let records = self.fleet.records();
        if protobuf {
            tenant_series::write_protobuf(&records, self.fleet.buckets(), out)?;
            drop(records);
            self.telemetry.write_protobuf(out)
        } else {
            tenant_series::write(&records, self.fleet.buckets(), out)?;
            drop(records);
            self.telemetry.write(out)
        }
    }
}

/// A response body that, once the last scrape sharing it has been sent,
/// hands the memory back to the system (off the runtime's workers).
struct TrimmedOnDrop(Vec<u8>);

impl AsRef<[u8]> for TrimmedOnDrop {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for TrimmedOnDrop {
    fn drop(&mut self) {
        drop(std::mem::take(&mut self.0));
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn_blocking(release_freed_memory);
            }
            Err(_) => release_freed_memory(),
        }
    }
}
