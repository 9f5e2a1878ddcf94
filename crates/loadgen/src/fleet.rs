//! The simulated fleet: which MACs are registered, which are not, and what each phone says
//! about itself. Every command derives MACs the same way from `--first-mac` and `--devices`,
//! so `seed` registers exactly what `redirect` and `boot-storm` later ask for.

use std::net::{IpAddr, Ipv4Addr};

use clap::Args;

/// Snom's first OUI (00:04:13), with room for 16M phones.
const DEFAULT_FIRST_MAC: &str = "000413100000";

/// Where unknown MACs start, counted from `--first-mac`.
const UNKNOWN_OFFSET: u64 = 0xF0_0000;

#[derive(Debug, Clone, Args)]
pub struct FleetArgs {
    /// Registered devices: MACs first-mac, first-mac + 1, ….
    #[arg(long, default_value_t = 100_000)]
    pub devices: u64,
    /// The first registered MAC (12 hex digits).
    #[arg(long, default_value = DEFAULT_FIRST_MAC, value_parser = parse_mac)]
    pub first_mac: u64,
    /// Phone model in paths and User-Agents.
    #[arg(long, default_value = "snomD785")]
    pub phone_type: String,
    /// Firmware version in User-Agents.
    #[arg(long, default_value = "10.1.54.13")]
    pub firmware: String,
}

fn parse_mac(s: &str) -> Result<u64, String> {
    let hex: String = s
        .chars()
        .filter(|c| !matches!(c, ':' | '-' | '.'))
        .collect();
    if hex.len() != 12 {
        return Err(format!("{s}: a MAC has 12 hex digits"));
    }
    u64::from_str_radix(&hex, 16).map_err(|_| format!("{s}: not hex"))
}

impl FleetArgs {
    /// The i-th registered MAC, uppercase compact.
    pub fn registered(&self, i: u64) -> Mac {
        Mac(self.first_mac + (i % self.devices.max(1)))
    }

    /// The i-th MAC that is certainly not registered: from first-mac + 15,728,640 on, far
    /// past any registered range (even when a run names fewer devices than were seeded).
    pub fn unknown(&self, i: u64) -> Mac {
        Mac(self.first_mac + UNKNOWN_OFFSET.max(self.devices) + (i % 1_000_000))
    }

    /// What a Snom phone of this model and firmware sends as its User-Agent.
    pub fn user_agent(&self, mac: Mac) -> String {
        format!(
            "Mozilla/4.0 (compatible; {}-SIP {} 2010.12-00004-g9ba52f5 {mac} SXM:0 UXM:0 UXMC:0)",
            self.phone_type, self.firmware
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mac(pub u64);

impl std::fmt::Display for Mac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:012X}", self.0 & 0xFFFF_FFFF_FFFF)
    }
}

/// A distinct loopback source address per phone (127.1.0.0 onwards), so that per-address
/// rate limits see a fleet rather than one client, as they would in the field.
pub fn source_address(phone: u64) -> IpAddr {
    let n = 0x0001_0000 + (phone % 0x00FE_0000);
    let n = u32::try_from(n).expect("under 2^24");
    IpAddr::V4(Ipv4Addr::new(127, (n >> 16) as u8, (n >> 8) as u8, n as u8))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fleet(devices: u64) -> FleetArgs {
        FleetArgs {
            devices,
            first_mac: parse_mac("00:04:13:10:00:00").unwrap(),
            phone_type: "snomD785".into(),
            firmware: "10.1.54.13".into(),
        }
    }

    #[test]
    fn registered_and_unknown_never_overlap() {
        let f = fleet(1000);
        assert_eq!(f.registered(0).to_string(), "000413100000");
        assert_eq!(f.registered(999).to_string(), "0004131003E7");
        assert_eq!(f.registered(1000), f.registered(0));
        assert_eq!(f.unknown(0).to_string(), "000414000000");
        assert!(parse_mac("0004131").is_err());
    }

    #[test]
    fn user_agents_carry_model_firmware_and_mac() {
        let f = fleet(1);
        let ua = f.user_agent(f.registered(0));
        let info = signpost_domain::parse_user_agent(&ua).unwrap();
        assert_eq!(info.mac.unwrap().to_string(), "000413100000");
        assert_eq!(info.phone_type.as_str(), "snomD785");
    }

    #[test]
    fn sources_are_distinct_loopback_addresses() {
        assert_eq!(source_address(0).to_string(), "127.1.0.0");
        assert_eq!(source_address(65_536).to_string(), "127.2.0.0");
        assert_ne!(source_address(1), source_address(2));
    }
}
