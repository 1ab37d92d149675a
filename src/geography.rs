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
