//! The managed resources, named `signpost_<key>` by the plugin server.

use std::collections::HashMap;
use std::sync::Arc;

use tf_provider::DynamicResource;

use crate::provider::Shared;

pub mod api_key;
pub mod device;
pub mod devices;
pub mod file;
pub mod profile;
pub mod tenant;

pub fn all(shared: &Arc<Shared>) -> HashMap<String, Box<dyn DynamicResource>> {
    let mut map: HashMap<String, Box<dyn DynamicResource>> = HashMap::new();
    let shared = || Arc::clone(shared);
    map.insert(
        "tenant".into(),
        Box::new(tenant::Tenant { shared: shared() }),
    );
    map.insert(
        "profile".into(),
        Box::new(profile::Profile { shared: shared() }),
    );
    map.insert(
        "device".into(),
        Box::new(device::Device { shared: shared() }),
    );
    map.insert(
        "devices".into(),
        Box::new(devices::Devices { shared: shared() }),
    );
    map.insert(
        "api_key".into(),
        Box::new(api_key::ApiKey { shared: shared() }),
    );
    map.insert("file".into(), Box::new(file::File { shared: shared() }));
    map
}
