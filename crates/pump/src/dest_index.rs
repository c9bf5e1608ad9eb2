//! Outbound SAs by destination address (issue 9 finding 6): the datapath finds the SAs whose
//! remote selectors can cover a packet with one binary search, instead of trying every SA in
//! turn, and never takes a wider SA where a narrower one covers the address.
//!
//! Each family's address space is cut into disjoint segments at every selector's start and
//! end; each segment lists the SAs whose remote selectors cover all of it, narrowest selector
//! first, then newest first (so a rekeyed SA takes over from its predecessor, and a client's
//! own host selector beats any wider one). Built once per table change (copy on write); a
//! lookup allocates nothing.

use std::net::IpAddr;
use std::sync::Arc;

use crate::selector::Selector;

/// One family's address as a number, and that family's largest address.
fn key(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(v4) => (false, u128::from(u32::from(v4))),
        IpAddr::V6(v6) => (true, u128::from(v6)),
    }
}

fn family_max(v6: bool) -> u128 {
    if v6 { u128::MAX } else { u128::from(u32::MAX) }
}

#[derive(Debug)]
struct Segment<T> {
    start: u128,
    end: u128,
    entries: Vec<Arc<T>>,
}

/// Values of type `T` (outbound SAs) indexed by the address ranges they cover.
#[derive(Debug)]
pub(crate) struct DestIndex<T> {
    v4: Vec<Segment<T>>,
    v6: Vec<Segment<T>>,
}

impl<T> Default for DestIndex<T> {
    fn default() -> Self {
        Self { v4: Vec::new(), v6: Vec::new() }
    }
}

impl<T> DestIndex<T> {
    /// Indexes `items`, given newest first, each with its remote selectors.
    pub(crate) fn build<'a>(items: impl IntoIterator<Item = (&'a Arc<T>, &'a [Selector])>) -> Self
    where
        T: 'a,
    {
        let items: Vec<_> = items.into_iter().collect();
        Self { v4: Self::family(&items, false), v6: Self::family(&items, true) }
    }

    fn family(items: &[(&Arc<T>, &[Selector])], v6: bool) -> Vec<Segment<T>> {
        let ranges = |sels: &'_ [Selector]| -> Vec<(u128, u128)> {
            sels.iter()
                .filter_map(|s| {
                    let (a, b) = (key(s.start), key(s.end));
                    (a.0 == v6 && b.0 == v6 && a.1 <= b.1).then_some((a.1, b.1))
                })
                .collect()
        };
        let mut cuts: Vec<u128> = Vec::new();
        for (_, sels) in items {
            for (start, end) in ranges(sels) {
                cuts.push(start);
                if end < family_max(v6) {
                    cuts.push(end + 1);
                }
            }
        }
        cuts.sort_unstable();
        cuts.dedup();
        // (width of the covering range, age, item) per elementary segment.
        let mut covering: Vec<Vec<(u128, usize, &Arc<T>)>> = vec![Vec::new(); cuts.len()];
        for (age, (item, sels)) in items.iter().enumerate() {
            for (start, end) in ranges(sels) {
                let first = cuts.partition_point(|c| *c < start);
                for (i, list) in covering.iter_mut().enumerate().skip(first) {
                    if cuts[i] > end {
                        break;
                    }
                    let width = end - start;
                    match list.iter_mut().find(|(_, a, _)| *a == age) {
                        // Two selectors of one SA: the narrower speaks for it.
                        Some(e) => e.0 = e.0.min(width),
                        None => list.push((width, age, item)),
                    }
                }
            }
        }
        let mut segments = Vec::new();
        for (i, mut list) in covering.into_iter().enumerate() {
            if list.is_empty() {
                continue;
            }
            list.sort_unstable_by_key(|(width, age, _)| (*width, *age));
            let end = cuts.get(i + 1).map_or(family_max(v6), |next| next - 1);
            segments.push(Segment {
                start: cuts[i],
                end,
                entries: list.into_iter().map(|(_, _, item)| Arc::clone(item)).collect(),
            });
        }
        segments
    }

    /// The values whose ranges cover `dst`, narrowest then newest first.
    pub(crate) fn lookup(&self, dst: IpAddr) -> &[Arc<T>] {
        let (v6, k) = key(dst);
        let segments = if v6 { &self.v6 } else { &self.v4 };
        let i = segments.partition_point(|s| s.start <= k);
        match i.checked_sub(1).map(|i| &segments[i]) {
            Some(s) if k <= s.end => &s.entries,
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(a: &str, b: &str) -> Selector {
        Selector::range(a.parse().unwrap(), b.parse().unwrap())
    }

    fn ip(a: &str) -> IpAddr {
        a.parse().unwrap()
    }

    fn names(found: &[Arc<String>]) -> Vec<&str> {
        found.iter().map(|a| a.as_str()).collect()
    }

    /// Issue 9 finding 6: one client's SA is never the answer for another client's address,
    /// even when it is newer; a wider selector comes only after every narrower one.
    #[test]
    fn narrowest_then_newest_and_never_another_clients() {
        let name = |s: &str| Arc::new(s.to_owned());
        let (a, b, wide, a2) = (name("a"), name("b"), name("wide"), name("a2"));
        let (sa, sb) = ([sel("10.88.0.10", "10.88.0.10")], [sel("10.88.0.11", "10.88.0.11")]);
        let sw = [Selector::any_v4(), Selector::any_v6()];
        // Newest first: A's rekeyed SA, the wide one, B, then A's old SA.
        let index =
            DestIndex::build([(&a2, &sa[..]), (&wide, &sw[..]), (&b, &sb[..]), (&a, &sa[..])]);
        assert_eq!(names(index.lookup(ip("10.88.0.10"))), ["a2", "a", "wide"]);
        assert_eq!(names(index.lookup(ip("10.88.0.11"))), ["b", "wide"]);
        assert_eq!(names(index.lookup(ip("10.88.0.12"))), ["wide"]);
        assert_eq!(names(index.lookup(ip("0.0.0.0"))), ["wide"]);
        assert_eq!(names(index.lookup(ip("255.255.255.255"))), ["wide"]);
        assert_eq!(names(index.lookup(ip("fd00::1"))), ["wide"]);
        let index = DestIndex::build([(&a, &sa[..]), (&b, &sb[..])]);
        assert!(index.lookup(ip("10.88.0.12")).is_empty());
        assert!(index.lookup(ip("10.88.0.9")).is_empty());
        assert!(index.lookup(ip("::")).is_empty());
        assert_eq!(names(index.lookup(ip("10.88.0.11"))), ["b"]);
    }

    /// The index agrees with trying every SA in turn (the reference: among those covering the
    /// address, narrowest first, then newest), on random tables of overlapping ranges.
    #[test]
    fn agrees_with_a_linear_scan() {
        // xorshift32: enough to vary the tables, and no dependency for it.
        let mut state = 0x9e37_79b9u32;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        for _ in 0..200 {
            let n = 1 + next() as usize % 12;
            let items: Vec<(Arc<usize>, Vec<Selector>)> = (0..n)
                .map(|i| {
                    let sels = (0..1 + next() % 2)
                        .map(|_| {
                            let a = next() % 64;
                            let b = a + next() % 16;
                            sel(&format!("10.0.0.{a}"), &format!("10.0.0.{b}"))
                        })
                        .collect();
                    (Arc::new(i), sels)
                })
                .collect();
            let index = DestIndex::build(items.iter().map(|(v, s)| (v, &s[..])));
            for host in 0..90u32 {
                let dst = ip(&format!("10.0.0.{host}"));
                let k = key(dst).1;
                let mut expected: Vec<(u128, usize)> = items
                    .iter()
                    .filter_map(|(v, sels)| {
                        sels.iter()
                            .map(|s| (key(s.start).1, key(s.end).1))
                            .filter(|(a, b)| *a <= k && k <= *b)
                            .map(|(a, b)| b - a)
                            .min()
                            .map(|w| (w, **v))
                    })
                    .collect();
                expected.sort_unstable();
                let expected: Vec<usize> = expected.into_iter().map(|(_, v)| v).collect();
                let got: Vec<usize> = index.lookup(dst).iter().map(|v| **v).collect();
                assert_eq!(got, expected, "dst {dst}");
            }
        }
    }
}
