//! Registered clients, cached for a few seconds: a client authenticates on every token request, and a
//! store round trip there would cost more than the grant itself. A change made through this node
//! (deleting a client, deactivating its account) clears the entry at once; one made on another node is
//! seen within [`TTL_MICROS`].

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use skybridge_store::oauth::clients::{self, ClientRow};

use crate::state::AppState;

pub const TTL_MICROS: i64 = 5_000_000;
/// Entries kept at most; past it the cache starts over (ids are only cached once they exist).
const CAPACITY: usize = 10_000;

#[derive(Default)]
pub struct ClientCache {
    map: RwLock<HashMap<String, (Arc<ClientRow>, i64)>>,
}

impl ClientCache {
    pub async fn get(
        &self,
        state: &AppState,
        client_id: &str,
    ) -> Result<Option<Arc<ClientRow>>, skybridge_store::StoreError> {
        let now = state.now();
        if let Ok(map) = self.map.read()
            && let Some((row, at)) = map.get(client_id)
            && (0..TTL_MICROS).contains(&(now - at))
        {
            return Ok(Some(row.clone()));
        }
        let found = clients::find(&mut state.store.handle().await?, client_id).await?;
        let Some(row) = found else {
            self.forget(client_id);
            return Ok(None);
        };
        let row = Arc::new(row);
        if let Ok(mut map) = self.map.write() {
            if map.len() >= CAPACITY {
                map.clear();
            }
            map.insert(client_id.to_string(), (row.clone(), now));
        }
        Ok(Some(row))
    }

    pub fn forget(&self, client_id: &str) {
        if let Ok(mut map) = self.map.write() {
            map.remove(client_id);
        }
    }

    pub fn clear(&self) {
        if let Ok(mut map) = self.map.write() {
            map.clear();
        }
    }
}
