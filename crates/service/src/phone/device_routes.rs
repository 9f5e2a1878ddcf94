//! Device routes of MACs seen for the first time, batched (see [`super::batched`]): a round
//! is one query, whatever the tenants.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use signpost_domain::Mac;
use signpost_store::registry::{DeviceRepo, DeviceRoute, RegistryError, RegistryResult};

use super::batched::{Batched, Fetch};

#[derive(Clone, Debug)]
pub struct DeviceRoutes(Batched<Routes>);

impl DeviceRoutes {
    pub fn new(devices: Arc<dyn DeviceRepo>) -> Self {
        Self(Batched::new(Routes(devices)))
    }

    /// The owner of `mac` and the device's own redirect fields, if it is registered.
    pub async fn get(&self, mac: Mac) -> RegistryResult<Option<DeviceRoute>> {
        self.0.get(mac).await
    }
}

struct Routes(Arc<dyn DeviceRepo>);

#[async_trait]
impl Fetch for Routes {
    type Key = Mac;
    type Value = DeviceRoute;
    type Error = RegistryError;

    async fn fetch(&self, macs: &[Mac]) -> RegistryResult<Vec<Option<DeviceRoute>>> {
        let found: HashMap<Mac, DeviceRoute> = self.0.routes(macs).await?.into_iter().collect();
        Ok(macs.iter().map(|mac| found.get(mac).cloned()).collect())
    }

    fn lost(reason: &str) -> RegistryError {
        RegistryError::Unavailable(reason.to_owned())
    }
}
