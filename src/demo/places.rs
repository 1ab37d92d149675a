//! Synthetic but stable small-area geography: LSOAs with codes, names,
//! centroids and the anonymised "snap points" police.uk maps crimes to.
//!
//! The catalogue is built from a fixed internal seed, NOT from the demo seed:
//! geography is reference data, so `Preston 014C` must have the same code and
//! the same points whatever seed a data set was generated with (the ONS lookup
//! is then identical across seeds, as the real one is across releases).

use super::rng::{Rng, Weighted};
use crate::geography::{DISTRICTS, District};
use std::ops::Range;

/// Seed of the geography: changing it changes every LSOA and point.
const CATALOGUE_SEED: u64 = 0x1A4C_A520_2100;

/// Shape and character of one district, used to place LSOAs and scale volumes.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// ONS code the shape belongs to.
    pub code: &'static str,
    /// Longitude range of the district's box.
    pub lon: (f64, f64),
    /// Latitude range of the district's box.
    pub lat: (f64, f64),
    /// Main town centre (lon, lat): LSOAs and crime cluster around it.
    pub centre: (f64, f64),
    /// Recorded crime per head relative to the county (1.0 = average).
    pub crime_rate: f64,
    /// Anti-social behaviour per head relative to the county.
    pub asb_rate: f64,
    /// Road collisions per head relative to the county (rural roads score high).
    pub road_rate: f64,
    /// Share of road collisions in urban areas.
    pub urban: f64,
    /// Deprivation: 0 (least) .. 1 (most); drives service-demand volumes.
    pub deprivation: f64,
    /// STATS19 legacy numeric local authority code (plausible, not official).
    pub la_number: i32,
    /// Towns and villages, used in the occasional `Street, Town` location.
    pub towns: &'static [&'static str],
    /// Local street and place names.
    pub streets: &'static [&'static str],
}

/// Shapes for the 14 districts, looked up by code (not position) so a reorder
/// of `geography::DISTRICTS` cannot silently swap them.
const SHAPES: [Shape; 14] = [
    Shape {
        code: "E07000117",
        lon: (-2.33, -2.15),
        lat: (53.73, 53.84),
        centre: (-2.243, 53.789),
        crime_rate: 1.45,
        asb_rate: 1.5,
        road_rate: 0.9,
        urban: 0.85,
        deprivation: 0.85,
        la_number: 63,
        towns: &["Burnley", "Padiham", "Hapton", "Worsthorne"],
        streets: &[
            "Manchester Road",
            "St James's Street",
            "Colne Road",
            "Padiham Road",
            "Todmorden Road",
            "Accrington Road",
            "Briercliffe Road",
            "Church Street",
            "Yorkshire Street",
            "Westgate",
            "Burnley Road",
        ],
    },
    Shape {
        code: "E07000118",
        lon: (-2.75, -2.50),
        lat: (53.57, 53.72),
        centre: (-2.632, 53.653),
        crime_rate: 0.7,
        asb_rate: 0.7,
        road_rate: 1.0,
        urban: 0.6,
        deprivation: 0.3,
        la_number: 64,
        towns: &[
            "Chorley",
            "Adlington",
            "Euxton",
            "Clayton-le-Woods",
            "Coppull",
        ],
        streets: &[
            "Market Street",
            "Pall Mall",
            "Preston Road",
            "Bolton Road",
            "Eaves Lane",
            "Harpers Lane",
            "Park Road",
            "Wigan Road",
            "Railway Road",
        ],
    },
    Shape {
        code: "E07000119",
        lon: (-3.04, -2.80),
        lat: (53.72, 53.83),
        centre: (-2.965, 53.750),
        crime_rate: 0.62,
        asb_rate: 0.65,
        road_rate: 1.05,
        urban: 0.55,
        deprivation: 0.2,
        la_number: 65,
        towns: &[
            "Lytham St Annes",
            "Kirkham",
            "Wesham",
            "Freckleton",
            "Warton",
        ],
        streets: &[
            "Clifton Drive",
            "St Annes Road West",
            "Clifton Street",
            "Poulton Street",
            "Preston Road",
            "Church Road",
            "Kirkham Road",
            "Ansdell Road",
        ],
    },
    Shape {
        code: "E07000120",
        lon: (-2.44, -2.32),
        lat: (53.70, 53.80),
        centre: (-2.364, 53.753),
        crime_rate: 1.15,
        asb_rate: 1.15,
        road_rate: 0.9,
        urban: 0.85,
        deprivation: 0.75,
        la_number: 66,
        towns: &[
            "Accrington",
            "Oswaldtwistle",
            "Great Harwood",
            "Clayton-le-Moors",
        ],
        streets: &[
            "Blackburn Road",
            "Whalley Road",
            "Union Road",
            "Burnley Road",
            "Manchester Road",
            "Broadway",
            "Queen Street",
            "Queens Road",
        ],
    },
    Shape {
        code: "E07000121",
        lon: (-2.95, -2.46),
        lat: (53.95, 54.24),
        centre: (-2.801, 54.047),
        crime_rate: 0.95,
        asb_rate: 0.95,
        road_rate: 1.1,
        urban: 0.6,
        deprivation: 0.45,
        la_number: 67,
        towns: &["Lancaster", "Morecambe", "Heysham", "Carnforth", "Galgate"],
        streets: &[
            "Marine Road Central",
            "Penny Street",
            "King Street",
            "Cable Street",
            "Bowerham Road",
            "Scale Hall Lane",
            "Heysham Road",
            "Lancaster Road",
            "Euston Road",
            "Torrisholme Road",
        ],
    },
    Shape {
        code: "E07000122",
        lon: (-2.30, -2.05),
        lat: (53.82, 53.95),
        centre: (-2.216, 53.835),
        crime_rate: 1.05,
        asb_rate: 1.05,
        road_rate: 0.9,
        urban: 0.7,
        deprivation: 0.7,
        la_number: 68,
        towns: &["Nelson", "Colne", "Barnoldswick", "Brierfield", "Earby"],
        streets: &[
            "Leeds Road",
            "Manchester Road",
            "Scotland Road",
            "Albert Road",
            "Keighley Road",
            "Every Street",
            "Railway Street",
            "Church Street",
        ],
    },
    Shape {
        code: "E07000123",
        lon: (-2.78, -2.62),
        lat: (53.74, 53.87),
        centre: (-2.699, 53.759),
        crime_rate: 1.5,
        asb_rate: 1.4,
        road_rate: 1.1,
        urban: 0.9,
        deprivation: 0.65,
        la_number: 69,
        towns: &[
            "Preston",
            "Fulwood",
            "Ribbleton",
            "Ashton-on-Ribble",
            "Broughton",
        ],
        streets: &[
            "Fishergate",
            "Friargate",
            "Church Street",
            "Deepdale Road",
            "Blackpool Road",
            "Ribbleton Lane",
            "Garstang Road",
            "New Hall Lane",
            "Marsh Lane",
            "Plungington Road",
            "Watling Street Road",
        ],
    },
    Shape {
        code: "E07000124",
        lon: (-2.62, -2.22),
        lat: (53.80, 54.04),
        centre: (-2.393, 53.871),
        crime_rate: 0.42,
        asb_rate: 0.4,
        road_rate: 1.35,
        urban: 0.35,
        deprivation: 0.05,
        la_number: 70,
        towns: &["Clitheroe", "Longridge", "Whalley", "Sabden", "Chipping"],
        streets: &[
            "Castle Street",
            "King Street",
            "Whalley Road",
            "Berry Lane",
            "Chatburn Road",
            "Pendle Road",
            "Preston Road",
        ],
    },
    Shape {
        code: "E07000125",
        lon: (-2.35, -2.15),
        lat: (53.64, 53.74),
        centre: (-2.284, 53.700),
        crime_rate: 0.95,
        asb_rate: 1.0,
        road_rate: 0.95,
        urban: 0.7,
        deprivation: 0.55,
        la_number: 71,
        towns: &[
            "Rawtenstall",
            "Bacup",
            "Haslingden",
            "Whitworth",
            "Waterfoot",
        ],
        streets: &[
            "Bank Street",
            "Bury Road",
            "Burnley Road",
            "Market Street",
            "Newchurch Road",
            "Deardengate",
            "Rochdale Road",
        ],
    },
    Shape {
        code: "E07000126",
        lon: (-2.80, -2.60),
        lat: (53.67, 53.76),
        centre: (-2.690, 53.700),
        crime_rate: 0.68,
        asb_rate: 0.7,
        road_rate: 1.0,
        urban: 0.7,
        deprivation: 0.25,
        la_number: 72,
        towns: &[
            "Leyland",
            "Bamber Bridge",
            "Penwortham",
            "Lostock Hall",
            "Longton",
        ],
        streets: &[
            "Station Road",
            "Towngate",
            "Hough Lane",
            "Liverpool Road",
            "Leyland Road",
            "Golden Hill Lane",
            "Chapel Lane",
        ],
    },
    Shape {
        code: "E07000127",
        lon: (-3.00, -2.70),
        lat: (53.55, 53.66),
        centre: (-2.800, 53.565),
        crime_rate: 0.75,
        asb_rate: 0.75,
        road_rate: 1.15,
        urban: 0.55,
        deprivation: 0.4,
        la_number: 73,
        towns: &[
            "Ormskirk",
            "Skelmersdale",
            "Burscough",
            "Aughton",
            "Tarleton",
        ],
        streets: &[
            "Church Street",
            "Aughton Street",
            "Moor Street",
            "Southway",
            "Liverpool Road",
            "County Road",
            "Derby Street",
            "Ormskirk Road",
        ],
    },
    Shape {
        code: "E07000128",
        lon: (-3.05, -2.75),
        lat: (53.85, 54.00),
        centre: (-3.010, 53.923),
        crime_rate: 0.75,
        asb_rate: 0.8,
        road_rate: 1.0,
        urban: 0.65,
        deprivation: 0.35,
        la_number: 74,
        towns: &[
            "Fleetwood",
            "Thornton-Cleveleys",
            "Poulton-le-Fylde",
            "Garstang",
        ],
        streets: &[
            "Lord Street",
            "Victoria Road West",
            "Breck Road",
            "Amounderness Way",
            "Dock Street",
            "Rossall Road",
            "Garstang Road",
        ],
    },
    Shape {
        code: "E06000008",
        lon: (-2.56, -2.40),
        lat: (53.66, 53.78),
        centre: (-2.483, 53.748),
        crime_rate: 1.3,
        asb_rate: 1.25,
        road_rate: 0.95,
        urban: 0.85,
        deprivation: 0.8,
        la_number: 75,
        towns: &["Blackburn", "Darwen", "Feniscowles", "Lower Darwen"],
        streets: &[
            "King William Street",
            "Preston New Road",
            "Whalley Range",
            "Accrington Road",
            "Bolton Road",
            "Audley Range",
            "Duckworth Street",
            "Montague Street",
            "Shadsworth Road",
        ],
    },
    Shape {
        code: "E06000009",
        lon: (-3.05, -2.99),
        lat: (53.77, 53.87),
        centre: (-3.050, 53.817),
        crime_rate: 1.95,
        asb_rate: 2.1,
        road_rate: 1.05,
        urban: 0.98,
        deprivation: 0.95,
        la_number: 76,
        towns: &["Blackpool", "Bispham", "Layton", "Marton", "South Shore"],
        streets: &[
            "Promenade",
            "Talbot Road",
            "Central Drive",
            "Lytham Road",
            "Dickson Road",
            "Church Street",
            "Abingdon Street",
            "Waterloo Road",
            "Whitegate Drive",
            "Devonshire Road",
            "Queen Street",
        ],
    },
];

/// Fallback used only if `geography::DISTRICTS` gains a district this module
/// does not know: a mid-county box with average rates.
const DEFAULT_SHAPE: Shape = Shape {
    code: "",
    lon: (-2.70, -2.40),
    lat: (53.75, 53.90),
    centre: (-2.55, 53.82),
    crime_rate: 1.0,
    asb_rate: 1.0,
    road_rate: 1.0,
    urban: 0.7,
    deprivation: 0.5,
    la_number: 99,
    towns: &["Lancashire"],
    streets: &["High Street", "Church Street"],
};

/// The shape of a district (by ONS code).
pub fn shape(d: &District) -> &'static Shape {
    SHAPES
        .iter()
        .find(|s| s.code == d.code)
        .unwrap_or(&DEFAULT_SHAPE)
}

/// Generic police.uk-style street and place names, shared by all districts.
const GENERIC_STREETS: [&str; 40] = [
    "High Street",
    "Station Road",
    "Park Road",
    "Victoria Street",
    "Queen Street",
    "King Street",
    "Albert Road",
    "Mill Lane",
    "School Lane",
    "Moor Lane",
    "New Road",
    "Green Lane",
    "Back Lane",
    "Chapel Street",
    "Water Street",
    "Bridge Street",
    "Union Street",
    "York Street",
    "Princess Street",
    "Grange Road",
    "Oak Avenue",
    "Beech Grove",
    "Elm Street",
    "Holly Close",
    "Willow Drive",
    "Cedar Avenue",
    "Ash Grove",
    "Meadow Way",
    "Springfield Road",
    "Highfield Road",
    "St Mary's Road",
    "St Paul's Road",
    "Hall Lane",
    "Marsh Road",
    "Brook Street",
    "Canal Street",
    "Cross Street",
    "Chester Road",
    "Lime Street",
    "Heath Road",
];

/// police.uk's generic snap-point place types; busy, so weighted up.
const PLACE_TYPES: [&str; 13] = [
    "Parking Area",
    "Supermarket",
    "Shopping Area",
    "Petrol Station",
    "Nightclub",
    "Sports/Recreation Area",
    "Hospital",
    "Police Station",
    "Bus/Coach Station",
    "Further/Higher Educational Building",
    "Theatre/Concert Hall",
    "Conference/Exhibition Centre",
    "Pedestrian Subway",
];

/// One anonymised point: pre-formatted so writing a row costs no formatting.
#[derive(Debug, Clone)]
pub struct Point {
    /// Longitude, 6 decimals.
    pub lon: String,
    /// Latitude, 6 decimals.
    pub lat: String,
    /// `On or near ...`.
    pub location: String,
}

/// One LSOA of the synthetic geography.
#[derive(Debug, Clone)]
pub struct Lsoa {
    /// `E01` + 6 digits.
    pub code: String,
    /// `<District> NNNL`.
    pub name: String,
    /// Index into `geography::DISTRICTS`, `None` for out-of-area LSOAs.
    pub district: Option<usize>,
    /// Centroid longitude.
    pub lon: f64,
    /// Centroid latitude.
    pub lat: f64,
    /// Relative crime weight within the district (town centres are heavy).
    pub weight: f64,
    /// Index of Multiple Deprivation decile (1 = most deprived).
    pub imd_decile: u8,
    /// Snap points.
    pub points: Vec<Point>,
    /// Weights over `points`.
    pub point_table: Weighted,
}

/// The whole catalogue: in-area LSOAs in district order, plus out-of-area ones.
#[derive(Debug, Clone)]
pub struct Catalogue {
    /// In-area LSOAs, district by district in `DISTRICTS` order.
    pub lsoas: Vec<Lsoa>,
    /// For each district, its slice of `lsoas`.
    pub ranges: Vec<Range<usize>>,
    /// For each district, weights over its LSOAs (relative to range start).
    pub tables: Vec<Weighted>,
    /// LSOAs in neighbouring forces that still turn up in Lancashire's file.
    pub out_of_area: Vec<Lsoa>,
}

/// Real-looking LSOAs of other forces: (code, name, lon, lat).
const OUT_OF_AREA: [(&str, &str, f64, f64); 9] = [
    ("E01027960", "Ashfield 016D", -1.262, 53.103),
    ("E01006321", "Wigan 031B", -2.631, 53.546),
    ("E01007050", "Sefton 015C", -2.995, 53.645),
    ("E01004790", "Bolton 012A", -2.431, 53.581),
    ("E01010990", "Calderdale 002B", -2.021, 53.741),
    ("E01027620", "Craven 008C", -2.152, 53.958),
    ("E01019450", "South Lakeland 013A", -2.598, 54.203),
    ("E01006600", "Liverpool 047D", -2.951, 53.402),
    ("E01010570", "Bradford 001A", -1.851, 53.928),
];

/// The force area's bounding box: no in-area point falls outside it.
pub const LANCASHIRE_LON: (f64, f64) = (-3.05, -2.05);
/// Latitude range of the force area's bounding box.
pub const LANCASHIRE_LAT: (f64, f64) = (53.55, 54.25);

/// First LSOA code number for the Lancashire-12 block and the unitary block.
const L12_FIRST_CODE: u32 = 24_900;
const UNITARY_FIRST_CODE: u32 = 12_600;

impl Catalogue {
    /// Build the (seed-independent) catalogue.
    pub fn build() -> Self {
        let mut rng = Rng::new(CATALOGUE_SEED);
        let mut lsoas = Vec::new();
        let mut ranges = Vec::new();
        let mut tables = Vec::new();
        let mut next_l12 = L12_FIRST_CODE;
        let mut next_unitary = UNITARY_FIRST_CODE;
        for (di, d) in DISTRICTS.iter().enumerate() {
            let sh = shape(d);
            let start = lsoas.len();
            let n = d.lsoas.max(1) as usize;
            // MSOA 001.. with 3..=6 LSOAs each, lettered A, B, C...
            let mut msoa = 1u32;
            let mut letter = 0u8;
            let mut in_msoa = rng.range(3, 6) as u8;
            for _ in 0..n {
                if letter >= in_msoa {
                    msoa += 1;
                    letter = 0;
                    in_msoa = rng.range(3, 6) as u8;
                }
                let name = format!("{} {:03}{}", d.name, msoa, char::from(b'A' + letter));
                letter += 1;
                let number = if d.lancashire_12 {
                    next_l12 += 1;
                    next_l12 - 1
                } else {
                    next_unitary += 1;
                    next_unitary - 1
                };
                let code = format!("E01{number:06}");
                let (lon, lat) = place_centroid(&mut rng, sh);
                lsoas.push(make_lsoa(&mut rng, code, name, Some(di), lon, lat, sh));
            }
            // Town-centre LSOAs carry far more crime: boost the nearest few.
            let mut by_dist: Vec<(f64, usize)> = (start..lsoas.len())
                .map(|i| {
                    let dx = (lsoas[i].lon - sh.centre.0) * 0.6;
                    let dy = lsoas[i].lat - sh.centre.1;
                    (dx * dx + dy * dy, i)
                })
                .collect();
            by_dist.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let hot = (n / 25).max(1);
            for (rank, (_, i)) in by_dist.iter().enumerate() {
                let l = &mut lsoas[*i];
                if rank < hot {
                    l.weight *= 6.0;
                    l.imd_decile = l.imd_decile.min(2);
                } else if rank < hot * 4 {
                    l.weight *= 2.0;
                }
            }
            let weights: Vec<f64> = lsoas[start..].iter().map(|l| l.weight).collect();
            tables.push(Weighted::new(&weights));
            ranges.push(start..lsoas.len());
        }
        let out_of_area = OUT_OF_AREA
            .iter()
            .map(|(code, name, lon, lat)| {
                make_lsoa(
                    &mut rng,
                    (*code).to_string(),
                    (*name).to_string(),
                    None,
                    *lon,
                    *lat,
                    &DEFAULT_SHAPE,
                )
            })
            .collect();
        Catalogue {
            lsoas,
            ranges,
            tables,
            out_of_area,
        }
    }

    /// A weighted-random in-area LSOA index of district `d`.
    pub fn sample_lsoa(&self, d: usize, rng: &mut Rng) -> usize {
        self.ranges[d].start + self.tables[d].sample(rng)
    }
}

/// Centroid: most LSOAs cluster around the main town, the rest spread over
/// the district's box.
fn place_centroid(rng: &mut Rng, sh: &Shape) -> (f64, f64) {
    let (lon, lat) = if rng.chance(0.6) {
        let w = (sh.lon.1 - sh.lon.0) * 0.18;
        let h = (sh.lat.1 - sh.lat.0) * 0.18;
        (
            sh.centre.0 + rng.normal() * w,
            sh.centre.1 + rng.normal() * h,
        )
    } else {
        (
            rng.uniform(sh.lon.0, sh.lon.1),
            rng.uniform(sh.lat.0, sh.lat.1),
        )
    };
    (lon.clamp(sh.lon.0, sh.lon.1), lat.clamp(sh.lat.0, sh.lat.1))
}

fn make_lsoa(
    rng: &mut Rng,
    code: String,
    name: String,
    district: Option<usize>,
    lon: f64,
    lat: f64,
    sh: &Shape,
) -> Lsoa {
    let heavy = rng.f64();
    let weight = 0.35 + 2.5 * heavy * heavy * heavy;
    // Deprivation decile: deprived districts skew to low deciles.
    let d = (sh.deprivation * 0.7 + rng.f64() * 0.6).clamp(0.0, 0.999);
    let imd_decile = 10 - (d * 10.0) as u8;
    let n_points = rng.range(14, 40) as usize;
    let mut points = Vec::with_capacity(n_points);
    let mut weights = Vec::with_capacity(n_points);
    for _ in 0..n_points {
        let (lo, la) = if district.is_some() {
            (LANCASHIRE_LON, LANCASHIRE_LAT)
        } else {
            ((-180.0, 180.0), (-90.0, 90.0))
        };
        let plon = (lon + rng.uniform(-0.007, 0.007)).clamp(lo.0, lo.1);
        let plat = (lat + rng.uniform(-0.004, 0.004)).clamp(la.0, la.1);
        let r = rng.f64();
        let (place, w) = if r < 0.12 {
            let p = *rng.pick(&PLACE_TYPES);
            (p.to_string(), 2.5)
        } else if r < 0.55 {
            ((*rng.pick(sh.streets)).to_string(), 1.0)
        } else {
            ((*rng.pick(&GENERIC_STREETS)).to_string(), 0.8)
        };
        // A few police.uk locations carry the town after a comma; the CSV
        // writer must quote them.
        let place = if rng.chance(0.04) {
            format!("{place}, {}", rng.pick(sh.towns))
        } else {
            place
        };
        let spread = rng.f64();
        points.push(Point {
            lon: format!("{plon:.6}"),
            lat: format!("{plat:.6}"),
            location: format!("On or near {place}"),
        });
        weights.push(w * (0.3 + 3.0 * spread * spread));
    }
    let point_table = Weighted::new(&weights);
    Lsoa {
        code,
        name,
        district,
        lon,
        lat,
        weight,
        imd_decile: imd_decile.clamp(1, 10),
        points,
        point_table,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_unique_contiguous_and_names_match_districts() {
        let c = Catalogue::build();
        let total: u32 = DISTRICTS.iter().map(|d| d.lsoas).sum();
        assert_eq!(c.lsoas.len() as u32, total);
        let mut codes: Vec<&str> = c.lsoas.iter().map(|l| l.code.as_str()).collect();
        codes.extend(c.out_of_area.iter().map(|l| l.code.as_str()));
        let n = codes.len();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), n, "duplicate LSOA codes");
        for (di, d) in DISTRICTS.iter().enumerate() {
            for l in &c.lsoas[c.ranges[di].clone()] {
                assert!(l.name.starts_with(d.name));
                let suffix = &l.name[d.name.len()..];
                assert_eq!(suffix.len(), 5, "{}", l.name);
                assert!(l.code.starts_with("E01") && l.code.len() == 9);
                assert!((-3.05..=-2.05).contains(&l.lon) && (53.55..=54.25).contains(&l.lat));
            }
        }
        assert_eq!(c.lsoas[0].code, "E01024900");
        assert!(c.out_of_area.iter().any(|l| l.name == "Ashfield 016D"));
    }

    #[test]
    fn catalogue_is_stable() {
        let a = Catalogue::build();
        let b = Catalogue::build();
        assert_eq!(a.lsoas[100].name, b.lsoas[100].name);
        assert_eq!(a.lsoas[100].points[0].lon, b.lsoas[100].points[0].lon);
    }
}
