//! The simulator's shared state: the current scenario, the signing keys,
//! the issued tokens,
//! the per-client counters of the rate_limited knob, the request log and the
//! traffic counters (totals and requests per second, for benchmarks).
//!
//! Every lock here is a `std::sync::Mutex`/`RwLock` held for a few
//! statements, never across an `.await`.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::RecordedRequest;
use super::access_token::{self, Grant};
use super::client_auth::ClientAuthState;
use super::scenario::{ClientBehaviour, Discovery, Scenario, Signing, TokenFormat};
use super::signing::{KeyError, KeyRing};

/// How many requests the log keeps (the oldest are dropped first).
pub(super) const LOG_CAPACITY: usize = 10_000;

/// Below this many stored tokens, never bother pruning expired ones.
const MIN_PRUNE_AT: usize = 1024;

/// How many wall-clock seconds of per-second request counts are kept.
pub(super) const TRAFFIC_SECONDS: usize = 3600;

/// Locks a mutex even if a panicking thread poisoned it: the data here stays
/// consistent statement by statement, and a simulator must keep answering.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Everything the handlers share.
pub(super) struct SimState {
    /// The scenario, replaced whole by `set_scenario`.
    scenario: RwLock<Arc<ClientTable>>,
    /// Tokens issued and not yet pruned.
    tokens: Mutex<TokenStore>,
    /// Per-client request counts, only for rate_limited clients.
    counters: Mutex<HashMap<String, RequestCounts>>,
    /// The last [`LOG_CAPACITY`] requests.
    log: Mutex<VecDeque<RecordedRequest>>,
    /// Request totals and requests per second.
    traffic: Mutex<Traffic>,
    /// Cancelled when the simulator starts stopping: delays end early.
    pub(super) stopping: CancellationToken,
    /// `jti`s of client assertions seen, and certificate-bound tokens.
    pub(super) client_auth: ClientAuthState,
    /// The keys that sign access tokens.
    pub(super) keys: KeyRing,
}

/// What the API endpoints need to know of a valid token.
pub(super) struct ValidToken {
    /// The client it was issued to.
    pub(super) client_id: Arc<str>,
    /// The SHA-256 thumbprint of the certificate it is bound to.
    pub(super) bound_to: Option<[u8; 32]>,
    /// Whether it is a Microsoft Graph token.
    pub(super) graph: bool,
}

impl SimState {
    pub(super) fn new(scenario: Scenario, stopping: CancellationToken) -> Result<Self, KeyError> {
        let keys = KeyRing::new(scenario.signing.algorithm)?;
        Ok(SimState {
            keys,
            scenario: RwLock::new(Arc::new(ClientTable::new(scenario))),
            tokens: Mutex::new(TokenStore::new()),
            counters: Mutex::new(HashMap::new()),
            log: Mutex::new(VecDeque::with_capacity(256)),
            traffic: Mutex::new(Traffic::default()),
            stopping,
            client_auth: ClientAuthState::default(),
        })
    }

    /// The scenario in force now (a snapshot: a concurrent replacement does
    /// not change a request already being answered).
    pub(super) fn clients(&self) -> Arc<ClientTable> {
        self.scenario
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the scenario and restarts the rate_limited counters, so a
    /// test that flips a scenario sees the new one from its first request.
    pub(super) fn set_scenario(&self, scenario: Scenario) {
        let table = Arc::new(ClientTable::new(scenario));
        *self
            .scenario
            .write()
            .unwrap_or_else(PoisonError::into_inner) = table;
        lock(&self.counters).clear();
    }

    /// Sleeps `delay` unless the simulator starts stopping first; false then.
    pub(super) async fn pause(&self, delay: Duration) -> bool {
        if delay.is_zero() {
            return !self.stopping.is_cancelled();
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => true,
            _ = self.stopping.cancelled() => false,
        }
    }

    /// Counts a token request of `client_id` and returns its number (from 1).
    pub(super) fn count_token_request(&self, client_id: &str) -> u64 {
        let mut counters = lock(&self.counters);
        let counts = counters.entry(client_id.to_owned()).or_default();
        counts.token += 1;
        counts.token
    }

    /// Counts an API call of `client_id` and returns its number (from 1).
    pub(super) fn count_api_call(&self, client_id: &str) -> u64 {
        let mut counters = lock(&self.counters);
        let counts = counters.entry(client_id.to_owned()).or_default();
        counts.api += 1;
        counts.api
    }

    /// Issues the access token `grant` describes, valid here for
    /// `lifetime_secs`: a JWT signed by the current key (its claims from
    /// [`Grant::claims`]), or an opaque string for a client with
    /// `token_format: opaque`; bound to the client certificate with
    /// SHA-256 thumbprint `bound_to` when given.
    pub(super) fn issue_token(
        &self,
        grant: &Grant<'_>,
        lifetime_secs: u64,
        bound_to: Option<[u8; 32]>,
    ) -> String {
        let graph = grant.is_graph();
        let client = grant.client;
        let token = if client.token_format == TokenFormat::Opaque {
            access_token::opaque()
        } else {
            let unpublished = client.sign_with_unpublished_key;
            let table = self.clients();
            self.keys
                .sign(&table.signing, &grant.claims(lifetime_secs), unpublished)
        };
        let issued = IssuedToken {
            client_id: Arc::from(client.client_id.as_str()),
            whole_hash: 0,
            expires_at: Instant::now(),
            bound_to,
            graph,
        };
        lock(&self.tokens).insert(&token, issued, lifetime_secs);
        token
    }

    /// What a token is, if it was issued here and has not expired.
    pub(super) fn valid_token(&self, token: &str) -> Option<ValidToken> {
        let tokens = lock(&self.tokens);
        let issued = tokens.find(token)?;
        (issued.expires_at > Instant::now()).then(|| ValidToken {
            client_id: issued.client_id.clone(),
            bound_to: issued.bound_to,
            graph: issued.graph,
        })
    }

    /// The client a token was issued to, expired or not (for the log).
    pub(super) fn token_owner(&self, token: &str) -> Option<Arc<str>> {
        lock(&self.tokens)
            .find(token)
            .map(|issued| issued.client_id.clone())
    }

    pub(super) fn record(&self, request: RecordedRequest) {
        let mut log = lock(&self.log);
        if log.len() >= LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(request);
    }

    pub(super) fn recorded(&self) -> Vec<RecordedRequest> {
        lock(&self.log).iter().cloned().collect()
    }

    /// Counts a request as it arrives, in its wall-clock second.
    pub(super) fn count_arrival(&self, at: SystemTime, token: bool) {
        let second = at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        lock(&self.traffic).arrival(second, token);
    }

    /// Counts the status of an answer sent.
    pub(super) fn count_answer(&self, status: u16) {
        let mut traffic = lock(&self.traffic);
        if (200..300).contains(&status) {
            traffic.answers_2xx += 1;
        } else {
            traffic.answers_other += 1;
        }
    }

    /// The traffic counters, for `GET /__simulator/stats`.
    pub(super) fn traffic(&self) -> serde_json::Value {
        let traffic = lock(&self.traffic);
        serde_json::json!({
            "requests_total": traffic.token + traffic.api,
            "token_requests_total": traffic.token,
            "api_requests_total": traffic.api,
            "answers_2xx_total": traffic.answers_2xx,
            "answers_other_total": traffic.answers_other,
            "per_second": traffic.per_second.iter().map(|&(second, count)| [second, count]).collect::<Vec<_>>(),
        })
    }
}

/// What `GET /__simulator/stats` reports: every request except the
/// simulator's own control routes (`/__simulator/*` but the redirect
/// route), so a benchmark can count the upstream requests a client made and
/// see how evenly they arrive.
#[derive(Default)]
struct Traffic {
    /// Requests to a token path.
    token: u64,
    /// Every other request (API calls, redirects, unknown paths).
    api: u64,
    /// Answers with a 2xx status.
    answers_2xx: u64,
    /// Answers with any other status.
    answers_other: u64,
    /// (unix second, requests that arrived in it), oldest first, only
    /// seconds that had requests, the last [`TRAFFIC_SECONDS`] of them.
    per_second: VecDeque<(u64, u64)>,
}

impl Traffic {
    fn arrival(&mut self, second: u64, token: bool) {
        if token {
            self.token += 1;
        } else {
            self.api += 1;
        }
        if self
            .per_second
            .back()
            .is_none_or(|&(last, _)| last < second)
        {
            if self.per_second.len() >= TRAFFIC_SECONDS {
                self.per_second.pop_front();
            }
            self.per_second.push_back((second, 1));
            return;
        }
        // A request stamped just before a racing one that opened a newer
        // second: it belongs a little before the end.
        let len = self.per_second.len();
        for index in (len.saturating_sub(8)..len).rev() {
            let (seen, count) = &mut self.per_second[index];
            if *seen == second {
                *count += 1;
                return;
            }
            if *seen < second {
                self.per_second.insert(index + 1, (second, 1));
                if self.per_second.len() > TRAFFIC_SECONDS {
                    self.per_second.pop_front();
                }
                return;
            }
        }
        // Older than the last few seconds: in the totals only.
    }
}

/// The scenario indexed by client id.
pub(super) struct ClientTable {
    by_id: HashMap<String, Arc<ClientBehaviour>>,
    accept_any: bool,
    /// The public key of clients taken by `accept_any`.
    accept_any_public_key: Option<String>,
    /// How tokens are signed and the key rotates.
    pub(super) signing: Signing,
    /// What discovery says and how it fails.
    pub(super) discovery: Discovery,
    /// When the scenario was loaded: default credential end dates count
    /// from it.
    pub(super) loaded_at: SystemTime,
}

impl ClientTable {
    fn new(scenario: Scenario) -> Self {
        let mut by_id = HashMap::with_capacity(scenario.clients.len());
        for client in scenario.clients {
            // A duplicate (only possible from Rust) keeps the last one.
            by_id.insert(client.client_id.clone(), Arc::new(client));
        }
        ClientTable {
            by_id,
            accept_any: scenario.accept_any,
            accept_any_public_key: scenario.accept_any_public_key,
            signing: scenario.signing,
            discovery: scenario.discovery,
            loaded_at: SystemTime::now(),
        }
    }

    /// The behaviour a token request of `client_id` meets; `None` is an
    /// unknown client.
    pub(super) fn for_token_request(&self, client_id: &str) -> Option<Arc<ClientBehaviour>> {
        if let Some(client) = self.by_id.get(client_id) {
            return Some(client.clone());
        }
        self.accept_any.then(|| {
            let mut client = ClientBehaviour::new(client_id, format!("secret-{client_id}"));
            client.public_key = self.accept_any_public_key.clone();
            Arc::new(client)
        })
    }

    /// The behaviour an API call with a valid token of `client_id` meets. A
    /// client removed from the scenario since its token was issued keeps a
    /// working token, as a revoked Nexthink credential's token may.
    pub(super) fn for_api_call(&self, client_id: &str) -> Arc<ClientBehaviour> {
        self.by_id
            .get(client_id)
            .cloned()
            .unwrap_or_else(|| Arc::new(ClientBehaviour::new(client_id, "")))
    }

    /// The client listed with `client_id` (not one `accept_any` would
    /// take): an application Graph knows.
    pub(super) fn listed(&self, client_id: &str) -> Option<Arc<ClientBehaviour>> {
        self.by_id.get(client_id).cloned()
    }
}

#[derive(Default)]
struct RequestCounts {
    token: u64,
    api: u64,
}

/// Issued tokens, keyed by the first characters of their signature (of
/// an opaque token: the whole), which are unguessable, with a keyed hash of
/// the whole token to reject a tampered header or payload. Storing a key
/// and 8 bytes instead of the whole JWT keeps a benchmark's hundreds of
/// thousands of live tokens small.
struct TokenStore {
    by_signature: HashMap<String, IssuedToken>,
    hasher: RandomState,
    /// Prune expired tokens when the store reaches this size: doubling it
    /// after each prune keeps the cost amortised O(1) per token.
    prune_at: usize,
}

struct IssuedToken {
    client_id: Arc<str>,
    whole_hash: u64,
    expires_at: Instant,
    /// The SHA-256 thumbprint of the client certificate the token is
    /// bound to (`tls_client_auth`).
    bound_to: Option<[u8; 32]>,
    /// A Microsoft Graph token.
    graph: bool,
}

/// How many characters of a signature key the store (256 random bits in
/// base64url).
const KEY_CHARS: usize = 43;

/// The store's key of `token`: the start of its last dot-separated part.
fn store_key(token: &str) -> &str {
    let last = token.rsplit('.').next().unwrap_or(token);
    let end = last
        .char_indices()
        .nth(KEY_CHARS)
        .map_or(last.len(), |(at, _)| at);
    &last[..end]
}

impl TokenStore {
    fn new() -> Self {
        TokenStore {
            by_signature: HashMap::new(),
            hasher: RandomState::new(),
            prune_at: MIN_PRUNE_AT,
        }
    }

    /// Stores `token` as `issued`, expiring `lifetime_secs` from now.
    fn insert(&mut self, token: &str, mut issued: IssuedToken, lifetime_secs: u64) {
        let now = Instant::now();
        if self.by_signature.len() >= self.prune_at {
            self.by_signature.retain(|_, token| token.expires_at > now);
            self.prune_at = (self.by_signature.len() * 2).max(MIN_PRUNE_AT);
        }
        let lifetime = Duration::from_secs(lifetime_secs);
        issued.whole_hash = self.hasher.hash_one(token);
        issued.expires_at = now.checked_add(lifetime).unwrap_or_else(far_future);
        self.by_signature
            .insert(store_key(token).to_owned(), issued);
    }

    /// The token as issued here, expired or not.
    fn find(&self, token: &str) -> Option<&IssuedToken> {
        let issued = self.by_signature.get(store_key(token))?;
        (issued.whole_hash == self.hasher.hash_one(token)).then_some(issued)
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600)
}
