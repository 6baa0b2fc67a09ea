//! Where one request's time went: DNS, connect, TLS, processing and
//! transfer, as curl's `-w` timings split them.
//!
//! The request future runs inside a [`Marks`] scope (a tokio task-local);
//! the hooks of [`super::connect`] (the DNS resolver, the connector layer,
//! the TLS session store) note the instants they see into it, and
//! [`Marks::phases`] turns them into durations once the exchange ended.
//! A request that got a pooled connection sees no marks: its DNS, connect
//! and TLS phases are 0 ([`Phases::reused`]).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The five phases of one request. They add up to the request's latency,
/// less the wait for a free connection slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Phases {
    /// Resolving the host name; 0 for an IP address or a reused connection.
    pub dns: Duration,
    /// From an address to an open TCP connection (through the proxy's
    /// CONNECT, when there is one); 0 for a reused connection.
    pub connect: Duration,
    /// The TLS handshake; 0 for http or a reused connection.
    pub tls: Duration,
    /// From the connection being ready to the first byte of the answer:
    /// sending the request and the server's work (and any redirects
    /// followed).
    pub processing: Duration,
    /// From the answer's head to its last body byte read.
    pub transfer: Duration,
    /// True when the request went over a connection opened earlier.
    pub reused: bool,
}

impl Phases {
    /// The phases' names (the `phase` label) with their values, in the
    /// order they happen.
    pub fn named(&self) -> [(Phase, Duration); 5] {
        Phase::ALL.map(|phase| (phase, self.of(phase)))
    }

    /// The time spent in one phase.
    pub fn of(&self, phase: Phase) -> Duration {
        match phase {
            Phase::Dns => self.dns,
            Phase::Connect => self.connect,
            Phase::Tls => self.tls,
            Phase::Processing => self.processing,
            Phase::Transfer => self.transfer,
        }
    }
}

/// One phase, for labels and headings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Name resolution.
    Dns,
    /// TCP connect.
    Connect,
    /// TLS handshake.
    Tls,
    /// Request sent to first answer byte.
    Processing,
    /// First to last answer byte.
    Transfer,
}

impl Phase {
    /// The `phase` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Dns => "dns",
            Phase::Connect => "connect",
            Phase::Tls => "tls",
            Phase::Processing => "processing",
            Phase::Transfer => "transfer",
        }
    }

    /// The heading on the status page.
    pub fn title(self) -> &'static str {
        match self {
            Phase::Dns => "DNS",
            Phase::Connect => "Connect",
            Phase::Tls => "TLS",
            Phase::Processing => "Processing",
            Phase::Transfer => "Transfer",
        }
    }

    /// Every phase in the order they happen.
    pub const ALL: [Phase; 5] = [
        Phase::Dns,
        Phase::Connect,
        Phase::Tls,
        Phase::Processing,
        Phase::Transfer,
    ];
}

/// The instants one request's hooks noted. Shared between the request's
/// future and the hooks, which may run in a connection's own future.
#[derive(Debug, Default)]
pub struct Marks {
    inner: Mutex<Noted>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Noted {
    dns_start: Option<Instant>,
    dns_end: Option<Instant>,
    connect_start: Option<Instant>,
    tls_start: Option<Instant>,
    connected: Option<Instant>,
    head: Option<Instant>,
}

tokio::task_local! {
    /// The marks of the request the current task is sending.
    static CURRENT: Arc<Marks>;
}

/// What a hook notes.
#[derive(Debug, Clone, Copy)]
pub enum Mark {
    /// A name lookup started.
    DnsStart,
    /// A name lookup ended.
    DnsEnd,
    /// The connector was asked for a new connection.
    ConnectStart,
    /// The TLS handshake started (the TCP connection is open).
    TlsStart,
    /// The new connection is ready for the request.
    Connected,
}

impl Marks {
    /// Runs `future` with these marks as the current task's. A plain
    /// function, not an `async fn`: an `async fn` keeps its argument
    /// beside the future it awaits, so every request's future would hold
    /// the exchange twice.
    pub fn scope<F: Future>(
        self: &Arc<Self>,
        future: F,
    ) -> tokio::task::futures::TaskLocalFuture<Arc<Marks>, F> {
        CURRENT.scope(self.clone(), future)
    }

    /// The marks of the request being sent by the current task, if any.
    pub fn current() -> Option<Arc<Marks>> {
        CURRENT.try_with(Arc::clone).ok()
    }

    /// Notes `mark` now. A new connection's marks replace an earlier
    /// one's (a redirect that needed another connection).
    pub fn note(&self, mark: Mark) {
        let now = Instant::now();
        let mut noted = self.inner.lock().expect("marks poisoned");
        match mark {
            Mark::ConnectStart => {
                *noted = Noted {
                    connect_start: Some(now),
                    ..Noted::default()
                };
            }
            Mark::DnsStart => noted.dns_start = Some(now),
            Mark::DnsEnd => noted.dns_end = Some(now),
            // The store is asked more than once per handshake.
            Mark::TlsStart => {
                noted.tls_start.get_or_insert(now);
            }
            Mark::Connected => noted.connected = Some(now),
        }
    }

    /// Notes that the answer's head arrived now.
    pub fn head(&self) {
        self.inner.lock().expect("marks poisoned").head = Some(Instant::now());
    }

    /// The phases of a request sent at `started` whose exchange ended at
    /// `ended` (the last body byte, or the failure). A phase that started
    /// and did not end runs to `ended`: a connect that timed out shows as
    /// a long connect.
    pub fn phases(&self, started: Instant, ended: Instant) -> Phases {
        let noted = *self.inner.lock().expect("marks poisoned");
        let head = noted.head.filter(|&head| head <= ended);
        // A connection opened for this request: asked for after the start
        // and ready before the head. One opened before, or one still being
        // opened when a pooled connection came free first (hyper lends
        // whichever is ready first and finishes the other in the
        // background), does not count.
        let opened = noted.connect_start.filter(|&at| {
            at >= started
                && head.is_none_or(|head| noted.connected.is_some_and(|ready| ready <= head))
        });
        let span = |from: Option<Instant>, to: Option<Instant>| match from {
            Some(from) => to.unwrap_or(ended).saturating_duration_since(from),
            None => Duration::ZERO,
        };
        let Some(connect_start) = opened else {
            return Phases {
                processing: span(Some(started), head),
                transfer: head.map_or(Duration::ZERO, |head| ended - head),
                reused: true,
                ..Phases::default()
            };
        };
        // TCP starts once the name resolved (at once for an address); a
        // lookup that never ended leaves no connect phase.
        let tcp_start = match noted.dns_start {
            Some(_) => noted.dns_end,
            None => Some(connect_start),
        };
        let tcp_end = noted.tls_start.or(noted.connected);
        let ready = noted.connected;
        Phases {
            dns: span(noted.dns_start, noted.dns_end),
            connect: span(tcp_start, tcp_end),
            tls: span(noted.tls_start, noted.connected),
            processing: match ready {
                Some(ready) => span(Some(ready), head),
                None => Duration::ZERO,
            },
            transfer: head.map_or(Duration::ZERO, |head| ended - head),
            reused: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(base: Instant, ms: u64) -> Instant {
        base + Duration::from_millis(ms)
    }

    fn marks(noted: Noted) -> Marks {
        Marks {
            inner: Mutex::new(noted),
        }
    }

    #[test]
    fn a_new_https_connection_splits_into_all_five_phases() {
        let t = Instant::now();
        let m = marks(Noted {
            connect_start: Some(at(t, 1)),
            dns_start: Some(at(t, 1)),
            dns_end: Some(at(t, 4)),
            tls_start: Some(at(t, 10)),
            connected: Some(at(t, 30)),
            head: Some(at(t, 80)),
        });
        let p = m.phases(t, at(t, 95));
        assert_eq!(p.dns, Duration::from_millis(3));
        assert_eq!(p.connect, Duration::from_millis(6));
        assert_eq!(p.tls, Duration::from_millis(20));
        assert_eq!(p.processing, Duration::from_millis(50));
        assert_eq!(p.transfer, Duration::from_millis(15));
        assert!(!p.reused);
    }

    #[test]
    fn plain_http_to_an_address_has_no_dns_and_no_tls() {
        let t = Instant::now();
        let m = marks(Noted {
            connect_start: Some(at(t, 0)),
            connected: Some(at(t, 2)),
            head: Some(at(t, 7)),
            ..Noted::default()
        });
        let p = m.phases(t, at(t, 8));
        assert_eq!(
            (p.dns, p.connect, p.tls),
            (Duration::ZERO, Duration::from_millis(2), Duration::ZERO)
        );
        assert_eq!(p.processing, Duration::from_millis(5));
        assert_eq!(p.transfer, Duration::from_millis(1));
    }

    #[test]
    fn a_reused_connection_shows_as_processing_and_transfer_only() {
        let t = Instant::now();
        let m = marks(Noted {
            head: Some(at(t, 40)),
            ..Noted::default()
        });
        let p = m.phases(t, at(t, 45));
        assert!(p.reused);
        assert_eq!(p.connect, Duration::ZERO);
        assert_eq!(p.processing, Duration::from_millis(40));
        assert_eq!(p.transfer, Duration::from_millis(5));
        // Marks left by a connection opened before this request started
        // (another request's) do not count either.
        let m = marks(Noted {
            connect_start: Some(t),
            connected: Some(at(t, 3)),
            head: Some(at(t, 50)),
            ..Noted::default()
        });
        assert!(m.phases(at(t, 10), at(t, 60)).reused);
        // Nor one this request asked for when a pooled connection came
        // free first and answered before it was ready.
        let m = marks(Noted {
            connect_start: Some(at(t, 1)),
            head: Some(at(t, 20)),
            connected: Some(at(t, 25)),
            ..Noted::default()
        });
        let p = m.phases(t, at(t, 30));
        assert!(p.reused);
        assert_eq!(p.processing, Duration::from_millis(20));
    }

    #[test]
    fn a_phase_that_never_ended_runs_to_the_failure() {
        let t = Instant::now();
        // TLS handshake hung until the timeout.
        let m = marks(Noted {
            connect_start: Some(t),
            tls_start: Some(at(t, 5)),
            ..Noted::default()
        });
        let p = m.phases(t, at(t, 10_000));
        assert_eq!(p.connect, Duration::from_millis(5));
        assert_eq!(p.tls, Duration::from_millis(9_995));
        assert_eq!((p.processing, p.transfer), (Duration::ZERO, Duration::ZERO));
        // TCP connect refused at 2 ms.
        let m = marks(Noted {
            connect_start: Some(t),
            ..Noted::default()
        });
        let p = m.phases(t, at(t, 2));
        assert_eq!(p.connect, Duration::from_millis(2));
        assert_eq!(p.tls, Duration::ZERO);
    }

    #[tokio::test]
    async fn hooks_reach_the_marks_of_the_request_in_scope_only() {
        assert!(Marks::current().is_none());
        let marks = Arc::new(Marks::default());
        marks
            .scope(async {
                Marks::current().unwrap().note(Mark::ConnectStart);
                Marks::current().unwrap().note(Mark::Connected);
            })
            .await;
        let noted = *marks.inner.lock().unwrap();
        assert!(noted.connect_start.is_some() && noted.connected.is_some());
    }
}
