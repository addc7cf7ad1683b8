//! The unit registry: where each vårdcentral is (kommun, region) and what it is called.
//!
//! Loaded from a CSV file (`deploy/units.csv`: `hsa_id,name,kommun_code`, optionally
//! `operator` and `care_area`, the groups targets can be set for); the region is the kommun's
//! län. A unit missing from the file still gets its region when the HSA-id's
//! organisation number is a known region's, so region roll-ups do not silently lose it.

use crate::domain::{HsaId, KommunCode, RegionCode};
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub hsa_id: HsaId,
    pub name: String,
    pub kommun: Option<KommunCode>,
    pub region: RegionCode,
    /// Who runs it, where the register says.
    pub operator: Option<Operator>,
    /// The region's own grouping of units (a närområde, a care area), where the register says.
    pub care_area: Option<String>,
}

/// Who runs a vårdcentral: the region itself or a private provider under vårdval. Regions
/// follow the two side by side, sometimes against different targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    Region,
    Private,
}

impl Operator {
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Region => "region",
            Operator::Private => "private",
        }
    }

    fn parse(s: &str) -> Result<Operator, String> {
        match s {
            "region" => Ok(Operator::Region),
            "private" => Ok(Operator::Private),
            _ => Err(format!("operator `{s}` is neither `region` nor `private`")),
        }
    }
}

/// Organisation numbers of regions (catalogue owners) and their län codes.
const REGION_ORGANISATIONS: [(&str, &str); 4] =
    [("2321000131", "14"), ("2321000115", "13"), ("2321000180", "20"), ("2321000172", "19")];

/// What is wrong with a unit register, naming the file and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterError(String);

impl std::fmt::Display for RegisterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RegisterError {}

#[derive(Debug, Clone, Default)]
pub struct UnitRegistry {
    units: HashMap<String, Unit>,
    /// The units of each kommun, sorted; and the kommuner of each region, sorted.
    in_kommun: HashMap<String, Vec<String>>,
    in_region: HashMap<String, Vec<String>>,
}

impl UnitRegistry {
    /// Parses lines after a header `hsa_id,name,kommun_code`, which may go on with
    /// `operator` and `care_area` (in that order; a field may be empty). Errors name the line.
    pub fn parse(csv: &str) -> Result<UnitRegistry, RegisterError> {
        Self::parse_lines(csv).map_err(RegisterError)
    }

    fn parse_lines(csv: &str) -> Result<UnitRegistry, String> {
        let mut lines = csv.lines().enumerate();
        let header: Vec<&str> = lines.next().map(|(_, h)| h.split(',').map(str::trim).collect()).unwrap_or_default();
        const COLUMNS: [&str; 5] = ["hsa_id", "name", "kommun_code", "operator", "care_area"];
        if header.len() < 3 || header.len() > COLUMNS.len() || header[..] != COLUMNS[..header.len()] {
            return Err(format!(
                "line 1: expected the header hsa_id,name,kommun_code[,operator[,care_area]], got {}",
                header.join(",")
            ));
        }
        let mut units = HashMap::new();
        for (i, line) in lines {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let at = |e: String| format!("line {}: {e}", i + 1);
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            if fields.len() != header.len() {
                return Err(at(format!("expected {} fields ({})", header.len(), header.join(","))));
            }
            let hsa_id = HsaId::parse(fields[0]).map_err(|e| at(e.to_string()))?;
            let kommun = KommunCode::parse(fields[2]).map_err(|e| at(e.to_string()))?;
            let optional = |n: usize| fields.get(n).filter(|f| !f.is_empty()).copied();
            let operator = optional(3).map(Operator::parse).transpose().map_err(at)?;
            units.insert(
                fields[0].to_string(),
                Unit {
                    hsa_id,
                    name: fields[1].to_string(),
                    kommun: Some(kommun),
                    region: kommun.region(),
                    operator,
                    care_area: optional(4).map(str::to_string),
                },
            );
        }
        let mut in_kommun: HashMap<String, Vec<String>> = HashMap::new();
        let mut in_region: HashMap<String, Vec<String>> = HashMap::new();
        for (hsa, unit) in &units {
            let kommun = unit.kommun.expect("units from the file have a kommun").to_string();
            in_kommun.entry(kommun.clone()).or_default().push(hsa.clone());
            in_region.entry(unit.region.to_string()).or_default().push(kommun);
        }
        for members in in_kommun.values_mut().chain(in_region.values_mut()) {
            members.sort();
            members.dedup();
        }
        Ok(UnitRegistry { units, in_kommun, in_region })
    }

    /// The registered units of a kommun (HSA-ids, sorted).
    pub fn units_in_kommun(&self, kommun: &str) -> &[String] {
        self.in_kommun.get(kommun).map_or(&[], Vec::as_slice)
    }

    /// The kommuner of a region that have registered units (codes, sorted).
    pub fn kommuner_in_region(&self, region: &str) -> &[String] {
        self.in_region.get(region).map_or(&[], Vec::as_slice)
    }

    pub fn load(path: &std::path::Path) -> Result<UnitRegistry, RegisterError> {
        let text = std::fs::read_to_string(path).map_err(|e| RegisterError(format!("{}: {e}", path.display())))?;
        Self::parse_lines(&text).map_err(|e| RegisterError(format!("{}: {e}", path.display())))
    }

    /// The unit, from the file or, failing that, from its HSA-id's organisation number.
    pub fn get(&self, hsa_id: &str) -> Option<Unit> {
        if let Some(unit) = self.units.get(hsa_id) {
            return Some(unit.clone());
        }
        let id = HsaId::parse(hsa_id).ok()?;
        let (_, region) = REGION_ORGANISATIONS.iter().find(|(org, _)| *org == id.organisation_number())?;
        Some(Unit {
            name: hsa_id.to_string(),
            kommun: None,
            region: RegionCode::parse(region).ok()?,
            hsa_id: id,
            operator: None,
            care_area: None,
        })
    }

    /// Whether the unit is in the file (not only known by its organisation number).
    pub fn is_registered(&self, hsa_id: &str) -> bool {
        self.units.contains_key(hsa_id)
    }

    /// Every unit in the file, sorted by HSA-id.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Unit)> {
        let mut units: Vec<_> = self.units.iter().map(|(k, v)| (k.as_str(), v)).collect();
        units.sort_by_key(|(k, _)| *k);
        units.into_iter()
    }

    pub fn len(&self) -> usize {
        self.units.len()
    }

    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_first_then_organisation_number() {
        let r = UnitRegistry::parse("hsa_id,name,kommun_code\nSE2321000180-E00101,Vårdcentral Mora,2062\n").unwrap();
        let mora = r.get("SE2321000180-E00101").unwrap();
        assert_eq!((mora.kommun.unwrap().as_str(), mora.region.as_str()), ("2062", "20"));
        let unknown = r.get("SE2321000115-X9").unwrap();
        assert_eq!((unknown.kommun, unknown.region.as_str()), (None, "13"));
        assert!(r.get("SE5560000000-X9").is_none());
        assert!(r.is_registered("SE2321000180-E00101") && !r.is_registered("SE2321000115-X9"));
        assert_eq!(r.units_in_kommun("2062"), ["SE2321000180-E00101"]);
        assert_eq!(r.kommuner_in_region("20"), ["2062"]);
        assert!(r.units_in_kommun("2080").is_empty());
        assert!(UnitRegistry::parse("h\nSE1,x\n").unwrap_err().to_string().contains("line 1"));
        assert!(UnitRegistry::parse("hsa_id,name,kommun_code\nSE1,x\n").unwrap_err().to_string().contains("line 2"));
    }

    #[test]
    fn operator_and_care_area_are_optional_columns() {
        let r = UnitRegistry::parse(
            "hsa_id,name,kommun_code,operator,care_area\nSE2321000115-E1,Vårdcentral Halmstad,1380,private,Halmstad norr\nSE2321000115-E2,Vårdcentral Varberg,1383,region,\n",
        )
        .unwrap();
        let (halmstad, varberg) = (r.get("SE2321000115-E1").unwrap(), r.get("SE2321000115-E2").unwrap());
        assert_eq!(
            (halmstad.operator, halmstad.care_area.as_deref()),
            (Some(Operator::Private), Some("Halmstad norr"))
        );
        assert_eq!((varberg.operator, varberg.care_area), (Some(Operator::Region), None));
        let bad = "hsa_id,name,kommun_code,operator\nSE2321000115-E1,x,1380,privat\n";
        assert!(UnitRegistry::parse(bad).unwrap_err().to_string().contains("line 2: operator `privat`"));
    }
}
