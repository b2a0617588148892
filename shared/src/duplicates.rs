//! Likely duplicates in a client book: two records with the same email address or phone number
//! (compared as keyed hashes: the details themselves stay sealed), or with close names in the
//! same city ("Harrison Vale" and "H. Vale" in Malibu). They are reported so that a person can
//! decide; nothing is merged by itself.

use std::collections::HashMap;

use serde::Serialize;
use uuid::Uuid;

/// A client as duplicate detection reads them.
#[derive(Debug, Clone)]
pub struct BookEntry {
    /// `None` for a record not stored yet (a row being imported).
    pub id: Option<Uuid>,
    pub name: String,
    pub city: Option<String>,
    /// Keyed hashes of the normalised email address and phone number.
    pub email: Option<Vec<u8>>,
    pub phone: Option<Vec<u8>>,
}

/// Why two records are probably one client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Likeness {
    SameEmail,
    SamePhone,
    /// Close names (the other's given) in the same city.
    CloseName {
        other: String,
        city: String,
    },
}

impl Likeness {
    pub fn words(&self) -> String {
        match self {
            Likeness::SameEmail => "the same email address".into(),
            Likeness::SamePhone => "the same phone number".into(),
            Likeness::CloseName { other, city } => {
                format!("a close name ({other:?}) in the same city ({city})")
            }
        }
    }
}

/// A name as compared: lower case, letters and digits, its words in order.
fn words_of(name: &str) -> Vec<String> {
    name.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

fn city_key(city: Option<&str>) -> Option<String> {
    city.map(|c| c.trim().to_lowercase())
        .filter(|c| !c.is_empty())
}

/// Whether two given names can be one person's: equal, one the other's initial ("H" and
/// "Harrison"), or one spelling away ("Jon", "John").
fn given_names_agree(a: &str, b: &str) -> bool {
    let initial = |short: &str, long: &str| short.chars().count() == 1 && long.starts_with(short);
    a == b || initial(a, b) || initial(b, a) || strsim::jaro_winkler(a, b) >= 0.85
}

/// A book entry's name and city as compared, worked out once per entry.
struct Prepared {
    /// The name's words, lower case, in order.
    words: Vec<String>,
    /// The same, sorted (a name written family name first is the same name).
    sorted: Vec<String>,
    city: Option<String>,
}

impl Prepared {
    fn of(entry: &BookEntry) -> Prepared {
        let words = words_of(&entry.name);
        let mut sorted = words.clone();
        sorted.sort();
        Prepared {
            words,
            sorted,
            city: city_key(entry.city.as_deref()),
        }
    }

    /// Whether the two names are close enough to be one person's: the same words in any order,
    /// or the same family name (to a letter) with agreeing given names.
    fn name_close(&self, other: &Prepared) -> bool {
        let (a, b) = (&self.words, &other.words);
        if a.len() < 2 || b.len() < 2 {
            return !a.is_empty() && a == b;
        }
        if self.sorted == other.sorted {
            return true;
        }
        let (family_a, family_b) = (&a[a.len() - 1], &b[b.len() - 1]);
        strsim::jaro_winkler(family_a, family_b) >= 0.92 && given_names_agree(&a[0], &b[0])
    }

    /// The bucket keys: each contact digest, and the city with the first two letters of the
    /// name's first and last words (so a name written either way round meets its twin; a typo in
    /// those letters is not caught).
    fn keys(&self, entry: &BookEntry) -> Vec<Vec<u8>> {
        let mut keys = Vec::new();
        for (tag, digest) in [(b'e', &entry.email), (b'p', &entry.phone)] {
            if let Some(digest) = digest {
                let mut key = vec![tag];
                key.extend_from_slice(digest);
                keys.push(key);
            }
        }
        if let Some(city) = &self.city {
            for word in [self.words.first(), self.words.last()]
                .into_iter()
                .flatten()
            {
                let mut key = vec![b'n'];
                key.extend_from_slice(city.as_bytes());
                key.push(0);
                key.extend(word.chars().take(2).collect::<String>().bytes());
                keys.push(key);
            }
        }
        keys.sort();
        keys.dedup();
        keys
    }
}

/// Whether two names are close enough to be one person's (see `Prepared::name_close`).
pub fn names_close(a: &str, b: &str) -> bool {
    let entry = |name: &str| BookEntry {
        id: None,
        name: name.to_owned(),
        city: None,
        email: None,
        phone: None,
    };
    Prepared::of(&entry(a)).name_close(&Prepared::of(&entry(b)))
}

/// The reasons to think `a` and `b` are one client (none: they are not).
fn likeness(a: (&BookEntry, &Prepared), b: (&BookEntry, &Prepared)) -> Vec<Likeness> {
    let ((a, a_prepared), (b, b_prepared)) = (a, b);
    let mut reasons = Vec::new();
    if a.email.is_some() && a.email == b.email {
        reasons.push(Likeness::SameEmail);
    }
    if a.phone.is_some() && a.phone == b.phone {
        reasons.push(Likeness::SamePhone);
    }
    if let (Some(city), Some(other_city)) = (&a_prepared.city, &b_prepared.city)
        && city == other_city
        && a_prepared.name_close(b_prepared)
    {
        reasons.push(Likeness::CloseName {
            other: b.name.clone(),
            city: b.city.clone().unwrap_or_else(|| city.clone()),
        });
    }
    reasons
}

/// A client book indexed for duplicate detection: a record is compared only with those that
/// share an email, a phone number, or a city and the first letters of a name's first or last
/// word.
#[derive(Default)]
pub struct Book {
    entries: Vec<(BookEntry, Prepared)>,
    buckets: HashMap<Vec<u8>, Vec<usize>>,
}

impl Book {
    pub fn new(entries: Vec<BookEntry>) -> Book {
        let mut book = Book::default();
        for entry in entries {
            book.add(entry);
        }
        book
    }

    /// Adds a record (a row just imported, so that a later row of the same file is compared with
    /// it too).
    pub fn add(&mut self, entry: BookEntry) {
        let at = self.entries.len();
        let prepared = Prepared::of(&entry);
        for key in prepared.keys(&entry) {
            self.buckets.entry(key).or_default().push(at);
        }
        self.entries.push((entry, prepared));
    }

    /// The stored records `candidate` is probably a duplicate of (itself left out), with why.
    pub fn matches(&self, candidate: &BookEntry) -> Vec<(&BookEntry, Vec<Likeness>)> {
        let prepared = Prepared::of(candidate);
        self.matching(candidate, &prepared)
            .into_iter()
            .map(|(at, reasons)| (&self.entries[at].0, reasons))
            .collect()
    }

    /// Every pair of likely duplicates in the book, each once, in book order.
    pub fn pairs(&self) -> Vec<(&BookEntry, &BookEntry, Vec<Likeness>)> {
        let mut pairs = Vec::new();
        for (at, (entry, prepared)) in self.entries.iter().enumerate() {
            for (other, reasons) in self.matching(entry, prepared) {
                if other > at {
                    pairs.push((entry, &self.entries[other].0, reasons));
                }
            }
        }
        pairs
    }

    /// [`matches`](Self::matches) by position in the book.
    fn matching(&self, candidate: &BookEntry, prepared: &Prepared) -> Vec<(usize, Vec<Likeness>)> {
        let mut near: Vec<usize> = prepared
            .keys(candidate)
            .iter()
            .filter_map(|key| self.buckets.get(key))
            .flatten()
            .copied()
            .collect();
        near.sort_unstable();
        near.dedup();
        near.into_iter()
            .filter(|&at| candidate.id.is_none() || self.entries[at].0.id != candidate.id)
            .filter_map(|at| {
                let (other, other_prepared) = &self.entries[at];
                let reasons = likeness((candidate, prepared), (other, other_prepared));
                (!reasons.is_empty()).then_some((at, reasons))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, city: Option<&str>, email: Option<&[u8]>) -> BookEntry {
        BookEntry {
            id: Some(Uuid::now_v7()),
            name: name.into(),
            city: city.map(str::to_owned),
            email: email.map(<[u8]>::to_vec),
            phone: None,
        }
    }

    #[test]
    fn close_names_are_one_persons_and_others_are_not() {
        assert!(names_close("Harrison Vale", "harrison vale"));
        assert!(names_close("Harrison Vale", "H. Vale"));
        assert!(names_close("Harrison Vale", "Vale, Harrison"));
        assert!(names_close("Jon Whitcombe", "John Whitcombe"));
        assert!(!names_close("Harrison Vale", "Eleanor Vale"));
        assert!(!names_close("Harrison Vale", "Harrison Ford"));
        assert!(!names_close("Vale", "Harrison Vale"));
    }

    #[test]
    fn a_book_finds_contacts_and_close_names_in_one_city_only() {
        let book = Book::new(vec![
            entry("Harrison Vale", Some("Malibu"), Some(b"d1")),
            entry("H. Vale", Some("malibu "), None),
            entry("Harrison Vale", Some("Aspen"), None),
            entry("Someone Else", None, Some(b"d1")),
            entry("Eleanor Vale", Some("Malibu"), None),
        ]);
        let pairs: Vec<(String, String, Vec<Likeness>)> = book
            .pairs()
            .into_iter()
            .map(|(a, b, why)| (a.name.clone(), b.name.clone(), why))
            .collect();
        assert_eq!(pairs.len(), 2, "{pairs:?}");
        assert_eq!(pairs[0].0, "Harrison Vale");
        assert_eq!(pairs[0].1, "H. Vale");
        assert!(matches!(pairs[0].2[0], Likeness::CloseName { .. }));
        assert_eq!(pairs[1].1, "Someone Else");
        assert_eq!(pairs[1].2, [Likeness::SameEmail]);
        let newcomer = BookEntry {
            id: None,
            ..entry("Harrison Vale", Some("Aspen"), None)
        };
        let found = book.matches(&newcomer);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0.city.as_deref(), Some("Aspen"));
    }
}
