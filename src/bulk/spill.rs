//! Resource lines spilled to temporary bucket files by the hash of their patient, so that one
//! bucket at a time is in memory. A bucket is a range of the 64-bit hash: bucket `i` of `2^b`
//! holds the hashes whose `b` bits after the first `skip` are `i`, so splitting a bucket that
//! turned out too large (by its next bits) keeps the order of hashes, and the order of the
//! report does not depend on how many buckets there were.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// What a spilled line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// The Patient resource of the patient `key`.
    Patient = 0,
    /// Another resource of the patient `key`.
    Resource = 1,
    /// A Medication resource: the patient `key` refers to it (in a patient's bucket), or its
    /// own id is `key` (in a medication bucket).
    Medication = 2,
    /// In a medication bucket: the patient `other` (of hash `hash`) refers to Medication `key`.
    Need = 3,
}

/// One spilled line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spilled {
    /// What it is.
    pub kind: Kind,
    /// The hash of the patient (of the Medication, for a Medication in its own bucket).
    pub hash: u64,
    /// The patient id (the Medication id in a medication bucket).
    pub key: String,
    /// The patient id of a [`Kind::Need`]; empty otherwise.
    pub other: String,
    /// The source file's index.
    pub source: u32,
    /// The line in that file.
    pub line: u64,
    /// The resource's JSON (empty for a [`Kind::Need`]).
    pub raw: String,
}

/// The hash that orders patients: FNV-1a over the id, then a 64-bit finalizer (splitmix64) so
/// its leading bits, which choose the bucket, are evenly spread even for ids like `p000001`.
pub fn patient_hash(id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The bucket of `hash` among `2^bits`, reading the bits after the first `skip`.
pub fn bucket_of(hash: u64, skip: u32, bits: u32) -> usize {
    if bits == 0 || skip >= 64 {
        return 0;
    }
    let shifted = hash.checked_shl(skip).unwrap_or(0);
    (shifted >> (64 - bits.min(64 - skip))) as usize
}

/// Writes one spilled line. Layout: kind (1 byte), hash (8), source (4), line (8), then key,
/// other and raw, each as a 4-byte length and its bytes (all little-endian).
#[expect(clippy::too_many_arguments, reason = "the fields of one record")]
pub fn write_record(
    w: &mut impl Write,
    kind: Kind,
    hash: u64,
    source: u32,
    line: u64,
    key: &str,
    other: &str,
    raw: &str,
) -> io::Result<()> {
    w.write_all(&[kind as u8])?;
    w.write_all(&hash.to_le_bytes())?;
    w.write_all(&source.to_le_bytes())?;
    w.write_all(&line.to_le_bytes())?;
    for s in [key, other, raw] {
        let n = u32::try_from(s.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "a line over 4 GiB"))?;
        w.write_all(&n.to_le_bytes())?;
        w.write_all(s.as_bytes())?;
    }
    Ok(())
}

impl Spilled {
    /// Writes this record.
    pub fn write_to(&self, w: &mut impl Write) -> io::Result<()> {
        write_record(
            w,
            self.kind,
            self.hash,
            self.source,
            self.line,
            &self.key,
            &self.other,
            &self.raw,
        )
    }

    /// Reads the next record; `None` at the end.
    pub fn read_from(r: &mut impl BufRead) -> io::Result<Option<Spilled>> {
        if r.fill_buf()?.is_empty() {
            return Ok(None);
        }
        let mut kind = [0u8; 1];
        r.read_exact(&mut kind)?;
        let kind = match kind[0] {
            0 => Kind::Patient,
            1 => Kind::Resource,
            2 => Kind::Medication,
            3 => Kind::Need,
            _ => return Err(io::Error::new(io::ErrorKind::InvalidData, "bad spill file")),
        };
        let hash = u64::from_le_bytes(read_array(r)?);
        let source = u32::from_le_bytes(read_array(r)?);
        let line = u64::from_le_bytes(read_array(r)?);
        Ok(Some(Spilled {
            kind,
            hash,
            source,
            line,
            key: read_string(r)?,
            other: read_string(r)?,
            raw: read_string(r)?,
        }))
    }
}

fn read_array<const N: usize>(r: &mut impl Read) -> io::Result<[u8; N]> {
    let mut a = [0u8; N];
    r.read_exact(&mut a)?;
    Ok(a)
}

fn read_string(r: &mut impl Read) -> io::Result<String> {
    let n = u32::from_le_bytes(read_array(r)?) as usize;
    let mut bytes = vec![0u8; n];
    r.read_exact(&mut bytes)?;
    String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Every record of a bucket file.
pub fn read_all(path: &Path) -> io::Result<Vec<Spilled>> {
    let mut r = BufReader::with_capacity(1 << 16, File::open(path)?);
    let mut all = Vec::new();
    while let Some(s) = Spilled::read_from(&mut r)? {
        all.push(s);
    }
    Ok(all)
}

/// A set of `2^bits` bucket files being written.
pub struct Buckets {
    files: Vec<BufWriter<File>>,
    paths: Vec<PathBuf>,
    skip: u32,
    bits: u32,
}

impl Buckets {
    /// Creates the files `{prefix}-{i}` in `dir`. Small write buffers: hundreds are open at once.
    pub fn create(dir: &Path, prefix: &str, skip: u32, bits: u32) -> io::Result<Buckets> {
        let n = 1usize << bits;
        let mut files = Vec::with_capacity(n);
        let mut paths = Vec::with_capacity(n);
        for i in 0..n {
            let path = dir.join(format!("{prefix}-{i:04}"));
            files.push(BufWriter::with_capacity(16 << 10, File::create(&path)?));
            paths.push(path);
        }
        Ok(Buckets {
            files,
            paths,
            skip,
            bits,
        })
    }

    /// The writer of the bucket that holds `hash`.
    pub fn writer(&mut self, hash: u64) -> &mut impl Write {
        let i = bucket_of(hash, self.skip, self.bits);
        &mut self.files[i]
    }

    /// Flushes and closes every file; their paths, in hash order.
    pub fn finish(self) -> io::Result<Vec<PathBuf>> {
        for f in self.files {
            f.into_inner().map_err(io::IntoInnerError::into_error)?;
        }
        Ok(self.paths)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_as_written() {
        let r = Spilled {
            kind: Kind::Need,
            hash: u64::MAX - 3,
            key: "med-1".into(),
            other: "p\u{e9}".into(),
            source: 7,
            line: 1 << 40,
            raw: String::new(),
        };
        let mut bytes = Vec::new();
        r.write_to(&mut bytes).unwrap();
        r.write_to(&mut bytes).unwrap();
        let mut input = &bytes[..];
        assert_eq!(Spilled::read_from(&mut input).unwrap(), Some(r.clone()));
        assert_eq!(Spilled::read_from(&mut input).unwrap(), Some(r));
        assert_eq!(Spilled::read_from(&mut input).unwrap(), None);
        assert!(Spilled::read_from(&mut &bytes[..5]).is_err());
    }

    #[test]
    fn buckets_are_ranges_of_the_hash_and_splitting_keeps_their_order() {
        assert_eq!(bucket_of(0, 0, 4), 0);
        assert_eq!(bucket_of(u64::MAX, 0, 4), 15);
        assert_eq!(bucket_of(0x8000_0000_0000_0000, 0, 1), 1);
        assert_eq!(bucket_of(0x7fff_ffff_ffff_ffff, 0, 1), 0);
        assert_eq!(bucket_of(u64::MAX, 3, 0), 0);
        assert_eq!(bucket_of(u64::MAX, 64, 4), 0);
        assert_eq!(bucket_of(u64::MAX, 62, 4), 3);
        // Bucket i, split by its next 4 bits, gives sub-buckets whose hashes sort after i's
        // predecessors and before its successors.
        let mut hashes: Vec<u64> = (0..2000u64)
            .map(|i| patient_hash(&format!("p{i}")))
            .collect();
        hashes.sort_unstable();
        let order: Vec<(usize, usize)> = hashes
            .iter()
            .map(|&h| (bucket_of(h, 0, 3), bucket_of(h, 3, 4)))
            .collect();
        assert!(order.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn sequential_ids_spread_over_the_buckets() {
        let mut counts = [0usize; 16];
        for i in 0..16_000 {
            counts[bucket_of(patient_hash(&format!("p{i:06}")), 0, 4)] += 1;
        }
        assert!(
            counts.iter().all(|&c| (800..1200).contains(&c)),
            "{counts:?}"
        );
    }
}
