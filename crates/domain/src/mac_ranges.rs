//! Which phone model a MAC most likely belongs to, from the address blocks Snom assigned to
//! each model. Used when a device has never booted (so its phone type was not learned) and
//! a client asks for the devices of one model, as the Snom XML-RPC `listPhones` does.
//!
//! The table is a heuristic: blocks were reused over the years and new models get new ones,
//! so an address outside it is simply "unknown", never an error.

use crate::Mac;

/// Snom's own OUI; the fourth byte picks the model.
const SNOM_OUI: [u8; 3] = [0x00, 0x04, 0x13];
/// The OUI of the DECT modules Snom sources from RTX.
const RTX_OUI: [u8; 3] = [0x00, 0x08, 0x7B];

const SNOM_BLOCKS: &[(&str, &[u8])] = &[
    (
        "snom300",
        &[
            0x25, 0x28, 0x2D, 0x2F, 0x34, 0x36, 0x37, 0x3B, 0x3D, 0x3E, 0x49, 0x4A, 0x4C, 0x4E,
            0x50,
        ],
    ),
    (
        "snom320",
        &[0x24, 0x27, 0x2C, 0x31, 0x35, 0x38, 0x3F, 0x4D, 0x51],
    ),
    ("snom370", &[0x26, 0x2E, 0x3A, 0x3C, 0x52]),
    ("snom360", &[0x23, 0x29, 0x2B, 0x39]),
    ("snomm9", &[0x30, 0x56]),
    ("snomMP", &[0x32, 0x55]),
    ("snomPA1", &[0x33, 0x8D]),
    ("snomM3", &[0x2A]),
    ("snom820", &[0x40]),
    ("snom821", &[0x45, 0x46, 0x48, 0x4B, 0x53]),
    ("snom870", &[0x41, 0x47, 0x54]),
    ("snom720", &[0x70, 0x77, 0x7D]),
    ("snom725", &[0x78, 0x86, 0x8B, 0xB7]),
    ("snom760", &[0x71, 0x7B]),
    ("snom710", &[0x74, 0x76, 0x7A, 0x7C, 0x7E, 0x89]),
    ("snom715", &[0x75, 0x7F, 0x87, 0x8A, 0xA5, 0xB2]),
    ("snomD765", &[0x90, 0x94, 0x98]),
    ("snomD745", &[0x79, 0x8C]),
    ("snomD712", &[0x88, 0xA8]),
    ("snomD375", &[0x91, 0x95]),
    ("snomD305", &[0x83, 0x8E]),
    ("snomD315", &[0x84, 0x8F]),
    ("snomD345", &[0x85, 0xA1]),
    ("snomD717", &[0xA6]),
    ("snomD120", &[0x82]),
    ("snomD735", &[0xA3]),
    ("snomD335", &[0xA4]),
    ("snomD785", &[0x92, 0x96]),
    ("snomD385", &[0x93]),
    ("snomM200SC", &[0x64]),
    ("snomM700", &[0x61, 0x63]),
    ("snomM300", &[0x62, 0xB8]),
    ("snomM900", &[0xB6]),
    ("snomC520", &[0xA0]),
];

const RTX_BLOCKS: &[(&str, &[u8])] = &[("snomM700", &[0x08, 0x09, 0x0B]), ("snomM300", &[0xD7])];

/// The phone type Snom's address plan suggests for `mac`, if any.
pub fn phone_type_for_mac(mac: Mac) -> Option<&'static str> {
    let bytes = mac.bytes();
    let blocks = match [bytes[0], bytes[1], bytes[2]] {
        SNOM_OUI => SNOM_BLOCKS,
        RTX_OUI => RTX_BLOCKS,
        _ => return None,
    };
    blocks
        .iter()
        .find(|(_, block)| block.contains(&bytes[3]))
        .map(|(phone_type, _)| *phone_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(s: &str) -> Mac {
        s.parse().unwrap()
    }

    #[test]
    fn known_blocks_name_their_model() {
        assert_eq!(phone_type_for_mac(mac("000413922D24")), Some("snomD785"));
        assert_eq!(phone_type_for_mac(mac("000413741767")), Some("snom710"));
        assert_eq!(phone_type_for_mac(mac("00087B091234")), Some("snomM700"));
    }

    #[test]
    fn other_addresses_are_unknown() {
        assert_eq!(phone_type_for_mac(mac("0004130F0000")), None);
        assert_eq!(phone_type_for_mac(mac("AABBCC922D24")), None);
    }

    #[test]
    fn no_block_names_two_models_within_one_oui() {
        for blocks in [SNOM_BLOCKS, RTX_BLOCKS] {
            let mut seen = std::collections::HashSet::new();
            for (_, block) in blocks {
                for byte in *block {
                    assert!(seen.insert(*byte), "block {byte:02X} listed twice");
                }
            }
        }
    }
}
