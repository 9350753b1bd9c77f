//! RFC 6962 / RFC 9162 Merkle trees over ledger entries: leaf hash SHA-256(0x00‖entry), node
//! hash SHA-256(0x01‖left‖right); the tree head of the first n leaves, inclusion proofs and
//! consistency proofs, and their verifiers. The verifiers are what an auditor runs offline: they
//! accept only well-formed proofs of exactly the claimed shape.
//!
//! The proof builders here recompute subtrees from the leaf hashes (O(n) per proof); a ledger
//! of millions of entries stores its subtree hashes and answers from those.

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("index {0} is not below the tree size {1}")]
    IndexOutOfRange(u64, u64),
    #[error("size1 {0} is greater than size2 {1}")]
    SizeOrder(u64, u64),
    #[error("a consistency proof from the empty tree proves nothing")]
    EmptyTree,
    #[error("the proof has the wrong number of hashes")]
    WrongLength,
    #[error("a hash is not 32 bytes")]
    BadHash,
    #[error("the proof does not lead to the root")]
    Mismatch,
}

pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    h.finalize().into()
}

pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// SHA-256 of the empty string: the root of the empty tree.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two strictly below `n` (n ≥ 2).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// MTH(D[n]) over leaf hashes.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// PATH(m, D[n]): the inclusion proof of leaf `index`.
pub fn inclusion_proof(index: usize, leaves: &[Hash]) -> Result<Vec<Hash>, ProofError> {
    if index >= leaves.len() {
        return Err(ProofError::IndexOutOfRange(
            index as u64,
            leaves.len() as u64,
        ));
    }
    fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
        if d.len() <= 1 {
            return vec![];
        }
        let k = split(d.len());
        if m < k {
            let mut p = path(m, &d[..k]);
            p.push(root(&d[k..]));
            p
        } else {
            let mut p = path(m - k, &d[k..]);
            p.push(root(&d[..k]));
            p
        }
    }
    Ok(path(index, leaves))
}

/// PROOF(m, D[n]): that the first `size1` leaves are a prefix of `leaves`.
pub fn consistency_proof(size1: usize, leaves: &[Hash]) -> Result<Vec<Hash>, ProofError> {
    if size1 > leaves.len() {
        return Err(ProofError::SizeOrder(size1 as u64, leaves.len() as u64));
    }
    if size1 == 0 {
        return Err(ProofError::EmptyTree);
    }
    fn sub(m: usize, d: &[Hash], whole: bool) -> Vec<Hash> {
        if m == d.len() {
            return if whole { vec![] } else { vec![root(d)] };
        }
        let k = split(d.len());
        if m <= k {
            let mut p = sub(m, &d[..k], whole);
            p.push(root(&d[k..]));
            p
        } else {
            let mut p = sub(m - k, &d[k..], false);
            p.push(root(&d[..k]));
            p
        }
    }
    Ok(sub(size1, leaves, true))
}

fn as_hash(b: &[u8]) -> Result<Hash, ProofError> {
    b.try_into().map_err(|_| ProofError::BadHash)
}

/// RFC 9162 §2.1.3.2: does `proof` show leaf `index` with `leaf` hash in the tree of `size`
/// whose head is `root`?
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &[u8],
    proof: &[Vec<u8>],
    root: &[u8],
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange(index, size));
    }
    let (leaf, root) = (as_hash(leaf)?, as_hash(root)?);
    let (mut f, mut s) = (index, size - 1);
    let mut r = leaf;
    for p in proof {
        let p = as_hash(p)?;
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            r = node_hash(&p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, &p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if r == root {
        Ok(())
    } else {
        Err(ProofError::Mismatch)
    }
}

/// RFC 9162 §2.1.4.2: does `proof` show that the tree of `size1` with head `root1` is a prefix
/// of the tree of `size2` with head `root2`?
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    proof: &[Vec<u8>],
    root1: &[u8],
    root2: &[u8],
) -> Result<(), ProofError> {
    if size1 > size2 {
        return Err(ProofError::SizeOrder(size1, size2));
    }
    if size1 == 0 {
        return Err(ProofError::EmptyTree);
    }
    if size1 == size2 {
        // Same tree: the heads must be the same bytes (as the reference verifier compares them).
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        return if root1 == root2 {
            Ok(())
        } else {
            Err(ProofError::Mismatch)
        };
    }
    let (root1, root2) = (as_hash(root1)?, as_hash(root2)?);
    if proof.is_empty() {
        return Err(ProofError::WrongLength);
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if size1.is_power_of_two() {
        path.push(root1);
    }
    for p in proof {
        path.push(as_hash(p)?);
    }
    let (mut f, mut s) = (size1 - 1, size2 - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if fr == root1 && sr == root2 {
        Ok(())
    } else {
        Err(ProofError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde_json::Value;

    fn vectors(kind: &str) -> Vec<(String, Value)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/vectors/rfc6962-merkle/testdata")
            .join(kind);
        let mut out = Vec::new();
        let mut stack = vec![dir];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d)
                .map(|r| r.flatten().collect::<Vec<_>>())
                .unwrap_or_default()
            {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "json") {
                    let v = std::fs::read_to_string(&p)
                        .ok()
                        .and_then(|t| serde_json::from_str(&t).ok())
                        .unwrap_or(Value::Null);
                    out.push((p.display().to_string(), v));
                }
            }
        }
        out
    }

    fn b64(v: &Value) -> Vec<u8> {
        STANDARD
            .decode(v.as_str().unwrap_or_default())
            .unwrap_or_else(|_| b"not base64".to_vec())
    }

    fn list(v: &Value) -> Vec<Vec<u8>> {
        v.as_array()
            .map(|a| a.iter().map(b64).collect())
            .unwrap_or_default()
    }

    #[test]
    fn every_inclusion_vector_is_judged_right() {
        let all = vectors("inclusion");
        assert!(all.len() > 90, "vectors found: {}", all.len());
        for (path, v) in all {
            let got = verify_inclusion(
                v["leafIdx"].as_u64().unwrap_or(u64::MAX),
                v["treeSize"].as_u64().unwrap_or(0),
                &b64(&v["leafHash"]),
                &list(&v["proof"]),
                &b64(&v["root"]),
            );
            assert_eq!(
                got.is_err(),
                v["wantErr"].as_bool().unwrap_or(true),
                "{path}: {got:?}"
            );
        }
    }

    #[test]
    fn every_consistency_vector_is_judged_right() {
        let all = vectors("consistency");
        assert!(all.len() > 90, "vectors found: {}", all.len());
        for (path, v) in all {
            let got = verify_consistency(
                v["size1"].as_u64().unwrap_or(0),
                v["size2"].as_u64().unwrap_or(0),
                &list(&v["proof"]),
                &b64(&v["root1"]),
                &b64(&v["root2"]),
            );
            assert_eq!(
                got.is_err(),
                v["wantErr"].as_bool().unwrap_or(true),
                "{path}: {got:?}"
            );
        }
    }

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(format!("entry {i}").as_bytes()))
            .collect()
    }

    #[test]
    fn built_proofs_verify_for_every_size_up_to_70() {
        let all = leaves(70);
        for n in 1..=all.len() {
            let d = &all[..n];
            let head = root(d);
            for m in 0..n {
                let p: Vec<Vec<u8>> = inclusion_proof(m, d)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|h| h.to_vec())
                    .collect();
                assert_eq!(
                    verify_inclusion(m as u64, n as u64, &d[m], &p, &head),
                    Ok(()),
                    "leaf {m} of {n}"
                );
                if !p.is_empty() {
                    let mut bad = p.clone();
                    bad[0][0] ^= 1;
                    assert!(verify_inclusion(m as u64, n as u64, &d[m], &bad, &head).is_err());
                }
            }
            for m in 1..=n {
                let p: Vec<Vec<u8>> = consistency_proof(m, d)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|h| h.to_vec())
                    .collect();
                let old = root(&d[..m]);
                assert_eq!(
                    verify_consistency(m as u64, n as u64, &p, &old, &head),
                    Ok(()),
                    "{m} → {n}"
                );
                if m < n {
                    let forged = leaf_hash(b"rewritten history");
                    assert!(verify_consistency(m as u64, n as u64, &p, &forged, &head).is_err());
                }
            }
        }
    }

    #[test]
    fn the_root_matches_a_naive_pairwise_recomputation() {
        // A different construction: hash levels pairwise, carrying an odd last node up.
        fn naive(mut level: Vec<Hash>) -> Hash {
            while level.len() > 1 {
                level = level
                    .chunks(2)
                    .map(|c| {
                        if c.len() == 2 {
                            node_hash(&c[0], &c[1])
                        } else {
                            c[0]
                        }
                    })
                    .collect();
            }
            level[0]
        }
        for n in 1..=65 {
            let d = leaves(n);
            assert_eq!(root(&d), naive(d.clone()), "size {n}");
        }
        assert_eq!(
            hex::encode(empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
