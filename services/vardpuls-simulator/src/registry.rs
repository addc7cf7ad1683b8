//! Which units the simulator runs and how large they are.
//!
//! `dalarna()` is Region Dalarna's vårdcentraler with list sizes from the region's own report
//! (../shared/seeds: Mora 21 593, Koppardalen 5 302, Särna 2 127); the HSA-ids are the example
//! ids of deploy/units.csv. `national()` is a synthetic country of about 1 200 units in the 21
//! regions, for load tests.

use vardpuls_core::domain::{HsaId, KommunCode};

#[derive(Debug, Clone, PartialEq)]
pub struct SimUnit {
    pub hsa_id: String,
    pub name: String,
    pub kommun: String,
    /// Listed patients: everything else scales with it.
    pub listed: u32,
    /// Share of calls that end in same-day contact at this unit (its "quality").
    pub contact_quality: f64,
}

impl SimUnit {
    pub fn region(&self) -> &str {
        &self.kommun[..2]
    }
}

/// Where a region's 1177 calls are attributed: one service id per region.
pub fn service_1177(region_org: &str) -> String {
    format!("SE{region_org}-1177")
}

/// Region Dalarna (län 20, organisation number 232100-0180).
pub fn dalarna() -> Vec<SimUnit> {
    let units = [
        ("E00101", "Vårdcentral Mora", "2062", 21_593, 0.86),
        ("E00102", "Vårdcentral Koppardalen", "2084", 5_302, 0.95),
        ("E00103", "Vårdcentral Särna", "2039", 2_127, 0.92),
        ("E00104", "Vårdcentral Falun", "2080", 14_870, 0.90),
        ("E00105", "Vårdcentral Borlänge", "2081", 12_410, 0.88),
    ];
    units
        .iter()
        .map(|(suffix, name, kommun, listed, quality)| SimUnit {
            hsa_id: format!("SE2321000180-{suffix}"),
            name: name.to_string(),
            kommun: kommun.to_string(),
            listed: *listed,
            contact_quality: *quality,
        })
        .collect()
}

/// The 21 län codes.
pub const REGIONS: [&str; 21] = [
    "01", "03", "04", "05", "06", "07", "08", "09", "10", "12", "13", "14", "17", "18", "19", "20", "21", "22", "23",
    "24", "25",
];

/// About `units` units over the 21 regions, sized like Swedish vårdcentraler (2 000-25 000
/// listed, about 8 500 on average). Deterministic: no seed needed.
pub fn national(units: usize) -> Vec<SimUnit> {
    let mut rng = crate::rng::Rng::new(1200);
    (0..units)
        .map(|i| {
            let region = REGIONS[i % REGIONS.len()];
            let kommun = format!("{region}{:02}", 60 + (i / REGIONS.len()) % 40);
            SimUnit {
                hsa_id: format!("SE2321000{:03}-N{i:05}", 100 + region.parse::<u32>().expect("digits")),
                name: format!("Vårdcentral {region}-{i}"),
                kommun,
                listed: 2_000 + rng.below(8_000) as u32 + rng.below(5_000) as u32,
                contact_quality: 0.80 + rng.unit() * 0.17,
            }
        })
        .collect()
}

/// Checks every unit against the domain rules, so the stream never fails validation by accident.
pub fn validate(units: &[SimUnit]) -> Result<(), String> {
    for u in units {
        HsaId::parse(&u.hsa_id).map_err(|e| format!("{}: {e}", u.hsa_id))?;
        KommunCode::parse(&u.kommun).map_err(|e| format!("{}: kommun {}: {e}", u.hsa_id, u.kommun))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_are_valid_and_sized_as_documented() {
        validate(&dalarna()).unwrap();
        let national = national(1_200);
        validate(&national).unwrap();
        let mean = national.iter().map(|u| u.listed as f64).sum::<f64>() / 1_200.0;
        assert!((7_500.0..9_500.0).contains(&mean), "{mean}");
        assert_eq!(dalarna()[0].listed, 21_593);
        assert_eq!(dalarna()[0].region(), "20");
    }
}
