//! Which partition a keyed input event lands in: Kafka's own default partitioner (murmur2 of
//! the key, as the Java client and librdkafka's `murmur2_random` compute it).
//!
//! Every producer of the input topics must place a unit's events in the same partition, since a
//! partition's shard holds all state of its units. vardpuls' producers set `murmur2_random`, so
//! they agree with Java producers (Kafka Connect, other systems) writing to the same topics,
//! and `aggregate-files --partitions` shards history exactly as the topics do.

/// The partition of `key` among `partitions`: `(murmur2(key) & 0x7fffffff) % partitions`.
pub fn partition_of(key: &[u8], partitions: i32) -> i32 {
    assert!(partitions > 0, "a topic has at least one partition");
    ((murmur2(key) & 0x7fff_ffff) % partitions as u32) as i32
}

/// Kafka's murmur2 (`org.apache.kafka.common.utils.Utils.murmur2`).
pub fn murmur2(data: &[u8]) -> u32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    let mut h = SEED ^ data.len() as u32;
    let mut words = data.chunks_exact(4);
    for word in &mut words {
        let mut k = u32::from_le_bytes(word.try_into().expect("four bytes"));
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M) ^ k;
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        for (i, byte) in tail.iter().enumerate().rev() {
            h ^= (*byte as u32) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^ (h >> 15)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_kafkas_own_test_vectors() {
        // org.apache.kafka.common.utils.UtilsTest#testMurmur2
        for (key, java) in [
            ("21", -973_932_308i32),
            ("foobar", -790_332_482),
            ("a-little-bit-long-string", -985_981_536),
            ("a-little-bit-longer-string", -1_486_304_829),
            ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
            ("abc", 479_470_107),
        ] {
            assert_eq!(murmur2(key.as_bytes()) as i32, java, "{key}");
        }
    }

    #[test]
    fn partitions_are_in_range_and_stable() {
        let p = partition_of(b"SE2321000180-E00101", 6);
        assert!((0..6).contains(&p));
        assert_eq!(p, partition_of(b"SE2321000180-E00101", 6));
        assert_eq!(partition_of(b"foobar", 1), 0);
        assert_eq!(partition_of(b"21", 1 << 30), (-973_932_308i32 & 0x7fff_ffff) % (1 << 30));
    }
}
