//! Sharding tenants across replicas: each tenant belongs to exactly one of
//! `count` shards by a consistent hash of its name (jump consistent hash),
//! so going from N to N+1 shards moves about 1/(N+1) of the tenants and a
//! StatefulSet needs no per-pod configuration.

/// This process's share of the tenants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which shard this process is, from 0.
    pub index: u32,
    /// How many shards there are.
    pub count: u32,
}

/// Why a shard cannot be set up.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ShardError {
    /// `--shard.count` is zero.
    #[error("--shard.count must be at least 1")]
    ZeroCount,
    /// `--shard.index` is not below the count.
    #[error("--shard.index {index} is not below --shard.count {count}")]
    IndexOutOfRange {
        /// The index given.
        index: u32,
        /// The count given.
        count: u32,
    },
    /// The host name has no `-N` ordinal suffix.
    #[error("host name {0:?} does not end in -N (a StatefulSet pod name such as credprobe-3)")]
    NoOrdinal(String),
}

impl Shard {
    /// The whole fleet in one process.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// A checked shard.
    pub fn new(index: u32, count: u32) -> Result<Shard, ShardError> {
        if count == 0 {
            return Err(ShardError::ZeroCount);
        }
        if index >= count {
            return Err(ShardError::IndexOutOfRange { index, count });
        }
        Ok(Shard { index, count })
    }

    /// Whether this shard probes the tenant called `name`.
    pub fn owns(&self, name: &str) -> bool {
        self.count == 1 || shard_of(name, self.count) == self.index
    }
}

/// The shard of a tenant name among `count` shards.
pub fn shard_of(name: &str, count: u32) -> u32 {
    jump_hash(fnv1a(name.as_bytes()), count)
}

/// The ordinal of a StatefulSet pod name: `credprobe-3` -> 3.
pub fn ordinal_from_hostname(hostname: &str) -> Result<u32, ShardError> {
    let hostname = hostname.trim();
    // A fully qualified name: the pod name is the first label.
    let pod = hostname.split('.').next().unwrap_or(hostname);
    pod.rsplit_once('-')
        .and_then(|(_, n)| n.parse().ok())
        .ok_or_else(|| ShardError::NoOrdinal(hostname.to_owned()))
}

/// This machine's host name: `HOSTNAME`, else /etc/hostname (what a pod has).
pub fn hostname() -> Option<String> {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
}

/// FNV-1a, 64 bits: stable across builds, platforms and releases (the
/// scheduler's start offsets use it too).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// Lamping and Veach, "A Fast, Minimal Memory, Consistent Hash Algorithm".
fn jump_hash(mut key: u64, buckets: u32) -> u32 {
    let mut b: i64 = -1;
    let mut j: i64 = 0;
    while j < i64::from(buckets) {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    b as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("tenant-{i:05}")).collect()
    }

    #[test]
    fn shards_partition_the_tenants_exactly() {
        let names = names(5000);
        for count in [1, 2, 3, 5, 8, 13] {
            let mut owners = vec![0u32; names.len()];
            for index in 0..count {
                let shard = Shard::new(index, count).unwrap();
                for (i, name) in names.iter().enumerate() {
                    if shard.owns(name) {
                        owners[i] += 1;
                    }
                }
            }
            assert!(
                owners.iter().all(|o| *o == 1),
                "count {count}: a tenant is owned {owners:?} times"
            );
            // And evenly: no shard has more than 1.25x its fair share.
            let fair = names.len() as f64 / f64::from(count);
            for index in 0..count {
                let owned = names.iter().filter(|n| shard_of(n, count) == index).count() as f64;
                assert!(
                    owned < fair * 1.25,
                    "count {count} shard {index}: {owned} vs {fair}"
                );
            }
        }
    }

    #[test]
    fn adding_a_shard_moves_about_one_in_n_plus_one() {
        let names = names(10_000);
        for count in 1..10u32 {
            let moved = names
                .iter()
                .filter(|n| shard_of(n, count) != shard_of(n, count + 1))
                .count() as f64;
            let expected = names.len() as f64 / f64::from(count + 1);
            assert!(
                (moved - expected).abs() < expected * 0.15,
                "{count} -> {}: moved {moved}, expected about {expected}",
                count + 1
            );
            // Every moved tenant went to the new shard, none between old ones.
            assert!(
                names
                    .iter()
                    .filter(|n| shard_of(n, count) != shard_of(n, count + 1))
                    .all(|n| shard_of(n, count + 1) == count)
            );
        }
    }

    #[test]
    fn ordinals_and_checks() {
        assert_eq!(ordinal_from_hostname("credprobe-3"), Ok(3));
        assert_eq!(
            ordinal_from_hostname("credprobe-12.credprobe.monitoring.svc"),
            Ok(12)
        );
        assert!(ordinal_from_hostname("credprobe").is_err());
        assert_eq!(Shard::new(0, 0), Err(ShardError::ZeroCount));
        assert_eq!(
            Shard::new(3, 3).unwrap_err().to_string(),
            "--shard.index 3 is not below --shard.count 3"
        );
    }
}
