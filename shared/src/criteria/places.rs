//! Places clients name — towns, neighbourhoods, regions, US states and countries — from the
//! gazetteer shipped in `shared/data/places/` (GeoNames, CC BY 4.0, and our own curated
//! neighbourhoods and regions; `scripts/build-gazetteer.py` builds it). A place with a centre
//! reaches a radius around it; a listing is in it when its coordinates (or, without them, its
//! town's centre) fall inside.

use std::{collections::HashMap, sync::OnceLock};

use crate::domain::{BrokeragePlace, Coordinates, Location};

use super::tokens::tokens;

static GAZETTEER_TSV: &str = include_str!("../../data/places/gazetteer.tsv");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaceKind {
    Town,
    Neighbourhood,
    Region,
    State,
    Country,
    /// One of the brokerage's own (`POST /api/v1/places`).
    Brokerage,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    pub kind: PlaceKind,
    pub name: String,
    /// ISO 3166 alpha-2.
    pub country: String,
    /// GeoNames admin1 code (the state for the US).
    pub admin1: String,
    pub centre: Option<Coordinates>,
    pub radius_km: f64,
    pub population: u64,
}

impl Place {
    pub fn of_brokerage(own: &BrokeragePlace) -> Place {
        Place {
            kind: PlaceKind::Brokerage,
            name: own.place.name.clone(),
            country: String::new(),
            admin1: String::new(),
            centre: Some(own.place.centre),
            radius_km: own.place.radius_km,
            population: 0,
        }
    }

    /// Whether a client's phrase names this brokerage place (by its name or an alias).
    fn named_by(own: &BrokeragePlace, phrase: &str) -> bool {
        let wanted = name_key(strip_vague(phrase.split(',').next().unwrap_or_default()));
        std::iter::once(&own.place.name)
            .chain(&own.place.aliases)
            .any(|name| name_key(name) == wanted)
    }

    /// Whether `at` is certainly more than `allowance_km` past this place's reach, told from
    /// latitudes alone (a degree of latitude is 111 km): the cheap test that spares most pairs
    /// the great-circle distance.
    pub fn surely_beyond(&self, at: &Placed, allowance_km: f64) -> bool {
        match (self.centre, at.point) {
            (Some(centre), Some(point)) => {
                (centre.latitude - point.latitude).abs() * 111.0
                    > self.radius_km + allowance_km + 1.0
            }
            _ => false,
        }
    }

    /// Where `at` (with its country and admin1 as known) stands to this place: inside, or how
    /// many km outside its reach; `None` when that cannot be told.
    pub fn reach(&self, at: &Placed) -> Option<Reach> {
        match self.kind {
            PlaceKind::Country => at
                .country
                .as_ref()
                .map(|c| Reach::by_area(c == &self.country)),
            PlaceKind::State => (at.country.as_deref() == Some("US"))
                .then_some(at.admin1.as_ref())
                .flatten()
                .map(|a| Reach::by_area(a == &self.admin1)),
            _ => {
                let (centre, point) = (self.centre?, at.point?);
                let distance = distance_km(centre, point);
                Some(Reach {
                    inside: distance <= self.radius_km,
                    distance_km: Some(distance),
                    beyond_km: (distance - self.radius_km).max(0.0),
                })
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reach {
    pub inside: bool,
    /// From the place's centre, for places with one.
    pub distance_km: Option<f64>,
    /// How far past its radius (0 inside).
    pub beyond_km: f64,
}

impl Reach {
    fn by_area(inside: bool) -> Reach {
        Reach {
            inside,
            distance_km: None,
            beyond_km: if inside { 0.0 } else { f64::INFINITY },
        }
    }
}

/// Where a listing is, as well as it can be told.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Placed {
    pub point: Option<Coordinates>,
    /// Where `point` comes from.
    pub point_source: Option<PointSource>,
    pub country: Option<String>,
    pub admin1: Option<String>,
}

/// Where a listing's point comes from: its own coordinates, or the centre of its town.
#[derive(Debug, Clone, PartialEq)]
pub enum PointSource {
    Coordinates,
    TownCentre(String),
}

impl PointSource {
    /// "its coordinates" or "the centre of Los Angeles".
    pub fn describe(&self) -> String {
        match self {
            PointSource::Coordinates => "its coordinates".to_owned(),
            PointSource::TownCentre(town) => format!("the centre of {town}"),
        }
    }
}

pub struct Gazetteer {
    places: Vec<Place>,
    by_name: HashMap<String, Vec<usize>>,
}

/// The shipped gazetteer, read once.
pub fn gazetteer() -> &'static Gazetteer {
    static LOADED: OnceLock<Gazetteer> = OnceLock::new();
    LOADED.get_or_init(|| Gazetteer::parse(GAZETTEER_TSV))
}

/// The key a name is looked up by: its words ("St. Moritz" and "Saint Moritz" alike).
pub fn name_key(name: &str) -> String {
    tokens(name)
        .into_iter()
        .map(|w| {
            if w == "st" || w == "ste" {
                "saint".to_owned()
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl Gazetteer {
    fn parse(tsv: &str) -> Gazetteer {
        let mut places = Vec::new();
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        for line in tsv.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
            let cols: Vec<&str> = line.split('\t').collect();
            let [
                kind,
                name,
                aliases,
                country,
                admin1,
                lat,
                lon,
                radius,
                population,
            ] = cols[..]
            else {
                continue;
            };
            let kind = match kind {
                "town" => PlaceKind::Town,
                "neighbourhood" => PlaceKind::Neighbourhood,
                "region" => PlaceKind::Region,
                "state" => PlaceKind::State,
                "country" => PlaceKind::Country,
                _ => continue,
            };
            let centre = lat
                .parse()
                .ok()
                .zip(lon.parse().ok())
                .map(|(latitude, longitude)| Coordinates {
                    latitude,
                    longitude,
                });
            let index = places.len();
            places.push(Place {
                kind,
                name: name.to_owned(),
                country: country.to_owned(),
                admin1: admin1.to_owned(),
                centre,
                radius_km: radius.parse().unwrap_or(0.0),
                population: population.parse().unwrap_or(0),
            });
            for alias in std::iter::once(name).chain(aliases.split('|').filter(|a| !a.is_empty())) {
                by_name.entry(name_key(alias)).or_default().push(index);
            }
        }
        Gazetteer { places, by_name }
    }

    /// The places a client's phrase may mean: the brokerage's own of that name when it has one,
    /// else the gazetteer's.
    pub fn resolve_with(&self, phrase: &str, own: &[BrokeragePlace]) -> Vec<Place> {
        let theirs: Vec<Place> = own
            .iter()
            .filter(|p| Place::named_by(p, phrase))
            .map(Place::of_brokerage)
            .collect();
        if theirs.is_empty() {
            self.resolve(phrase).into_iter().cloned().collect()
        } else {
            theirs
        }
    }

    /// The places a client's phrase may mean ("Southampton" is in England and in New York;
    /// "Southampton, NY" only the latter), most specific kinds first.
    pub fn resolve(&self, phrase: &str) -> Vec<&Place> {
        let mut parts = phrase.split(',').map(str::trim).filter(|p| !p.is_empty());
        let Some(head) = parts.next() else {
            return Vec::new();
        };
        let qualifiers: Vec<&str> = parts.collect();
        let head = strip_vague(head);
        let mut found: Vec<&Place> = self
            .by_name
            .get(&name_key(head))
            .into_iter()
            .flatten()
            .map(|&i| &self.places[i])
            .collect();
        if !qualifiers.is_empty() {
            let within: Vec<&Place> = qualifiers.iter().flat_map(|q| self.areas(q)).collect();
            let narrowed: Vec<&Place> = found
                .iter()
                .copied()
                .filter(|p| within.iter().any(|area| contains(area, p)))
                .collect();
            if !narrowed.is_empty() {
                found = narrowed;
            }
        }
        found.sort_by_key(|p| (p.kind == PlaceKind::Town, std::cmp::Reverse(p.population)));
        found
    }

    /// Countries and US states a qualifier names ("NY", "New York", "France", "UK").
    fn areas(&self, name: &str) -> Vec<&Place> {
        let mut areas: Vec<&Place> = self
            .by_name
            .get(&name_key(name))
            .into_iter()
            .flatten()
            .map(|&i| &self.places[i])
            .filter(|p| matches!(p.kind, PlaceKind::Country | PlaceKind::State))
            .collect();
        if areas.is_empty() && name.len() == 2 {
            areas.extend(self.places.iter().filter(|p| {
                (p.kind == PlaceKind::State && p.admin1.eq_ignore_ascii_case(name))
                    || (p.kind == PlaceKind::Country && p.country.eq_ignore_ascii_case(name))
            }));
        }
        areas
    }

    /// Where a listing is: its coordinates when given, else the centre of its town (the one in
    /// its region and country, the most populous of those); its country and state either way.
    pub fn place_listing(&self, location: &Location, coordinates: Option<Coordinates>) -> Placed {
        let country = location
            .country
            .as_deref()
            .and_then(|c| {
                self.areas(c)
                    .into_iter()
                    .find(|p| p.kind == PlaceKind::Country)
            })
            .map(|p| p.country.clone());
        let state = location
            .region
            .as_deref()
            .and_then(|r| {
                self.areas(r)
                    .into_iter()
                    .find(|p| p.kind == PlaceKind::State)
            })
            .map(|p| p.admin1.clone());
        let town = location.city.as_deref().and_then(|city| {
            self.resolve(city)
                .into_iter()
                .filter(|p| p.kind != PlaceKind::Country && p.kind != PlaceKind::State)
                .filter(|p| country.as_ref().is_none_or(|c| c == &p.country))
                .filter(|p| state.as_ref().is_none_or(|s| s == &p.admin1))
                .max_by_key(|p| (p.kind == PlaceKind::Town, p.population))
        });
        let (point, point_source) = match (coordinates, town) {
            (Some(at), _) => (Some(at), Some(PointSource::Coordinates)),
            (None, Some(town)) => (
                town.centre,
                Some(PointSource::TownCentre(town.name.clone())),
            ),
            (None, None) => (None, None),
        };
        Placed {
            point,
            point_source,
            country: country.or_else(|| town.map(|t| t.country.clone())),
            admin1: state.or_else(|| town.filter(|t| t.country == "US").map(|t| t.admin1.clone())),
        }
    }
}

fn contains(area: &Place, place: &Place) -> bool {
    match area.kind {
        PlaceKind::Country => area.country == place.country,
        PlaceKind::State => place.country == "US" && area.admin1 == place.admin1,
        _ => false,
    }
}

/// "near Aspen", "greater London", "Aspen area" are Aspen and London.
fn strip_vague(phrase: &str) -> &str {
    let mut phrase = phrase.trim();
    for prefix in ["near ", "around ", "greater ", "in ", "the area of "] {
        if phrase.len() > prefix.len() && phrase[..prefix.len()].eq_ignore_ascii_case(prefix) {
            phrase = phrase[prefix.len()..].trim();
        }
    }
    for suffix in [" area", " region", " and surroundings"] {
        if phrase.len() > suffix.len()
            && phrase[phrase.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
        {
            phrase = phrase[..phrase.len() - suffix.len()].trim();
        }
    }
    phrase
}

/// Great-circle distance.
pub fn distance_km(a: Coordinates, b: Coordinates) -> f64 {
    let (lat1, lat2) = (a.latitude.to_radians(), b.latitude.to_radians());
    let dlat = lat2 - lat1;
    let dlon = (b.longitude - a.longitude).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(latitude: f64, longitude: f64) -> Coordinates {
        Coordinates {
            latitude,
            longitude,
        }
    }

    #[test]
    fn names_resolve_with_aliases_and_qualifiers() {
        let g = gazetteer();
        assert_eq!(
            g.resolve("Hollywood Hills")[0].kind,
            PlaceKind::Neighbourhood
        );
        assert_eq!(g.resolve("the Hamptons")[0].name, "The Hamptons");
        assert_eq!(g.resolve("French Riviera")[0].name, "Côte d'Azur");
        assert_eq!(g.resolve("Cote d'Azur")[0].name, "Côte d'Azur");
        assert_eq!(g.resolve("St. Moritz")[0].country, "CH");
        let southampton = g.resolve("Southampton, NY");
        assert!(
            southampton.iter().all(|p| p.admin1 == "NY"),
            "{southampton:?}"
        );
        assert!(g.resolve("Southampton").iter().any(|p| p.country == "GB"));
        assert_eq!(g.resolve("near Aspen")[0].name, "Aspen");
        assert!(g.resolve("Narnia").is_empty());
    }

    #[test]
    fn listings_are_placed_by_coordinates_or_town() {
        let g = gazetteer();
        let la = Location {
            city: Some("Los Angeles".into()),
            region: Some("California".into()),
            country: Some("USA".into()),
        };
        // A house on Mulholland, in the hills above Hollywood.
        let placed = g.place_listing(&la, Some(at(34.1300, -118.3450)));
        let hills = &g.resolve("Hollywood Hills")[0];
        let reach = hills.reach(&placed).unwrap();
        assert!(
            reach.inside && reach.distance_km.unwrap() < 1.0,
            "{reach:?}"
        );
        let by_town = g.place_listing(&la, None);
        assert_eq!(
            by_town
                .point_source
                .as_ref()
                .map(PointSource::describe)
                .as_deref(),
            Some("the centre of Los Angeles")
        );
        assert_eq!(
            (by_town.country.as_deref(), by_town.admin1.as_deref()),
            (Some("US"), Some("CA"))
        );
        let california = &g.resolve("California")[0];
        assert!(california.reach(&by_town).unwrap().inside);
        let montecito = &g.resolve("Montecito")[0];
        let santa_barbara = g.place_listing(
            &Location {
                city: Some("Santa Barbara".into()),
                region: Some("CA".into()),
                country: None,
            },
            None,
        );
        let reach = montecito.reach(&santa_barbara).unwrap();
        assert!(
            !reach.inside && reach.beyond_km > 0.5 && reach.beyond_km < 10.0,
            "{reach:?}"
        );
    }
}
