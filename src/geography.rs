//! The fixed geography of pan-Lancashire: districts, their ONS codes, the
//! Community Safety Partnership each belongs to, and which tier it sits in.
//!
//! This is reference data, not configuration: it changes only when local
//! government is reorganised. Queries never hard-code it; the pipeline lands it
//! in the lake as the `geography_district` table so that indicator SQL and the
//! roll-up join against data. LSOAs are not listed here: they arrive from the
//! ONS LSOA -> local authority lookup like any other source.

/// One local authority district of pan-Lancashire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct District {
    /// ONS local authority district code (`E07...` two-tier, `E06...` unitary).
    pub code: &'static str,
    /// Name exactly as ONS and police.uk LSOA names spell it.
    pub name: &'static str,
    /// Community Safety Partnership footprint the district belongs to.
    pub csp: &'static str,
    /// True for the twelve districts of Lancashire County Council.
    pub lancashire_12: bool,
    /// Approximate mid-2022 resident population, used by the demo generator
    /// to scale volumes; real rates always use the landed ONS estimates.
    pub population: u32,
    /// Approximate number of 2021 LSOAs, used by the demo generator.
    pub lsoas: u32,
}

/// Pennine Lancashire joins the east Lancashire districts with Blackburn with Darwen.
pub const CSP_PENNINE: &str = "Pennine Lancashire";
/// Chorley and South Ribble work as one partnership.
pub const CSP_CENTRAL: &str = "Chorley and South Ribble";

/// The 14 districts of pan-Lancashire, Lancashire-12 first in ONS code order.
pub const DISTRICTS: [District; 14] = [
    d("E07000117", "Burnley", CSP_PENNINE, true, 95_500, 60),
    d("E07000118", "Chorley", CSP_CENTRAL, true, 118_200, 71),
    d("E07000119", "Fylde", "Fylde", true, 82_100, 50),
    d("E07000120", "Hyndburn", CSP_PENNINE, true, 82_400, 53),
    d("E07000121", "Lancaster", "Lancaster", true, 143_500, 89),
    d("E07000122", "Pendle", CSP_PENNINE, true, 96_700, 57),
    d("E07000123", "Preston", "Preston", true, 151_200, 89),
    d("E07000124", "Ribble Valley", CSP_PENNINE, true, 62_400, 39),
    d("E07000125", "Rossendale", CSP_PENNINE, true, 71_000, 44),
    d("E07000126", "South Ribble", CSP_CENTRAL, true, 112_000, 69),
    d(
        "E07000127",
        "West Lancashire",
        "West Lancashire",
        true,
        118_000,
        70,
    ),
    d("E07000128", "Wyre", "Wyre", true, 113_000, 71),
    d(
        "E06000008",
        "Blackburn with Darwen",
        CSP_PENNINE,
        false,
        156_300,
        91,
    ),
    d("E06000009", "Blackpool", "Blackpool", false, 141_400, 94),
];

const fn d(
    code: &'static str,
    name: &'static str,
    csp: &'static str,
    lancashire_12: bool,
    population: u32,
    lsoas: u32,
) -> District {
    District {
        code,
        name,
        csp,
        lancashire_12,
        population,
        lsoas,
    }
}

/// Area code used for the Lancashire County Council area (the 12 districts).
pub const LANCASHIRE_12_CODE: &str = "E10000017";
/// Area code used for pan-Lancashire (the force area, 14 districts).
pub const LANCASHIRE_14_CODE: &str = "E23000003";

/// Look a district up by its ONS code.
pub fn district_by_code(code: &str) -> Option<&'static District> {
    DISTRICTS.iter().find(|d| d.code == code)
}

/// Look a district up by its name as used in LSOA names (`Preston 001A`).
pub fn district_by_name(name: &str) -> Option<&'static District> {
    DISTRICTS.iter().find(|d| d.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_county_districts_and_two_unitaries() {
        assert_eq!(DISTRICTS.iter().filter(|d| d.lancashire_12).count(), 12);
        let unitary: Vec<_> = DISTRICTS.iter().filter(|d| !d.lancashire_12).collect();
        assert!(unitary.iter().all(|d| d.code.starts_with("E06")));
        assert_eq!(district_by_code("E07000128").unwrap().name, "Wyre");
        assert_eq!(district_by_name("Blackpool").unwrap().code, "E06000009");
    }

    #[test]
    fn pennine_lancashire_spans_the_county_boundary() {
        let pennine: Vec<_> = DISTRICTS.iter().filter(|d| d.csp == CSP_PENNINE).collect();
        assert_eq!(pennine.len(), 6);
        assert!(pennine.iter().any(|d| !d.lancashire_12));
    }
}

/// One area a figure can be reported for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct Area {
    /// Code (ONS where one exists; `csp-...` for partnerships).
    pub code: String,
    /// Name.
    pub name: String,
    /// `district`, `csp`, `lancashire_12` or `lancashire_14`.
    pub level: &'static str,
}

/// The roll-up crosswalk: LSOA -> district -> CSP -> Lancashire-12 ->
/// Lancashire-14. LSOAs come from the ONS lookup in the lake; districts and
/// their partnerships from [`DISTRICTS`]. Built once per run; queries never
/// hard-code it.
#[derive(Debug, Clone, Default)]
pub struct Crosswalk {
    lsoa_to_district: std::collections::HashMap<String, String>,
}

/// Code for a CSP name: `csp-pennine-lancashire`.
pub fn csp_code(name: &str) -> String {
    let mut s = String::from("csp-");
    for ch in name.chars() {
        if ch.is_ascii_alphanumeric() {
            s.push(ch.to_ascii_lowercase());
        } else if !s.ends_with('-') {
            s.push('-');
        }
    }
    s
}

impl Crosswalk {
    /// A crosswalk with these LSOA -> district pairs.
    pub fn new(lsoa_to_district: impl IntoIterator<Item = (String, String)>) -> Self {
        Crosswalk {
            lsoa_to_district: lsoa_to_district.into_iter().collect(),
        }
    }

    /// The district an area code belongs to: itself if a district, its
    /// district if an LSOA in the lookup, else `None` (outside the area).
    pub fn district_of(&self, code: &str) -> Option<&'static District> {
        district_by_code(code).or_else(|| {
            self.lsoa_to_district
                .get(code)
                .and_then(|d| district_by_code(d))
        })
    }

    /// Every area a district rolls up into, itself first.
    pub fn ancestors(d: &District) -> Vec<Area> {
        let mut out = vec![
            Area {
                code: d.code.into(),
                name: d.name.into(),
                level: "district",
            },
            Area {
                code: csp_code(d.csp),
                name: format!("{} CSP", d.csp),
                level: "csp",
            },
        ];
        if d.lancashire_12 {
            out.push(Area {
                code: LANCASHIRE_12_CODE.into(),
                name: "Lancashire-12".into(),
                level: "lancashire_12",
            });
        }
        out.push(Area {
            code: LANCASHIRE_14_CODE.into(),
            name: "Lancashire-14 (pan-Lancashire)".into(),
            level: "lancashire_14",
        });
        out
    }

    /// Every area (districts, CSPs, Lancashire-12, Lancashire-14), sorted
    /// from the top level down.
    pub fn all_areas() -> Vec<Area> {
        let mut set = std::collections::BTreeSet::new();
        for d in &DISTRICTS {
            set.extend(Self::ancestors(d));
        }
        let rank = |l: &str| match l {
            "lancashire_14" => 0,
            "lancashire_12" => 1,
            "csp" => 2,
            _ => 3,
        };
        let mut v: Vec<Area> = set.into_iter().collect();
        v.sort_by(|a, b| (rank(a.level), &a.name).cmp(&(rank(b.level), &b.name)));
        v
    }

    /// Districts under an area.
    pub fn districts_in(area: &Area) -> Vec<&'static District> {
        DISTRICTS
            .iter()
            .filter(|d| Self::ancestors(d).iter().any(|a| a.code == area.code))
            .collect()
    }
}

/// Lake table holding the district -> CSP -> county -> force-area crosswalk.
pub const CROSSWALK_TABLE: &str = "geography_crosswalk";

/// Land the crosswalk as reference data, so officers' SQL can join it and
/// never hard-codes a district list. Unchanged content is not rewritten.
pub fn land_crosswalk(lake: &crate::lake::Lake) -> Result<(), crate::lake::Error> {
    use crate::schema::{Column, ColumnType::*};
    use datafusion::arrow::array::{ArrayRef, BooleanArray, RecordBatch, StringArray};
    use sha2::{Digest, Sha256};
    use std::sync::Arc;
    let columns = vec![
        Column::new("district_code", String),
        Column::new("district_name", String),
        Column::new("csp_code", String),
        Column::new("csp_name", String),
        Column::new("lancashire_12", Bool),
        Column::new("county_code", String),
        Column::new("force_area_code", String),
    ];
    let fingerprint = hex::encode(Sha256::digest(format!("{DISTRICTS:?}").as_bytes()));
    let mut landing = crate::lake::Landing::begin(lake, CROSSWALK_TABLE, columns.clone())?;
    if !landing.is_new("reference", &fingerprint) {
        return Ok(());
    }
    landing.replace_all();
    landing.replace_unit("reference");
    let n = DISTRICTS.len();
    let s = |f: &dyn Fn(&District) -> std::string::String| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(DISTRICTS.iter().map(f)))
    };
    let cols: Vec<ArrayRef> = vec![
        s(&|d| d.code.into()),
        s(&|d| d.name.into()),
        s(&|d| csp_code(d.csp)),
        s(&|d| d.csp.into()),
        Arc::new(BooleanArray::from_iter(
            DISTRICTS.iter().map(|d| Some(d.lancashire_12)),
        )),
        s(&|d| {
            if d.lancashire_12 {
                LANCASHIRE_12_CODE.into()
            } else {
                d.code.into()
            }
        }),
        s(&|_| LANCASHIRE_14_CODE.into()),
        crate::lake::input_column("reference", n),
    ];
    let batch = RecordBatch::try_new(crate::schema::lake_schema(&columns), cols)
        .map_err(|e| crate::lake::Error::Internal(e.to_string()))?;
    landing.write("all", &batch)?;
    landing.record_input(
        "reference",
        crate::lake::InputEntry::whole(
            "built-in geography".into(),
            fingerprint,
            "all",
            n as u64,
            crate::lake::now_rfc3339(),
        ),
    );
    landing.commit().map(|_| ())
}
