//! The shared rate limiter: every replica takes from the same buckets in Redis, so a limit
//! holds however the load balancer spreads a client's requests.
//!
//! Each take (or set of takes, `take_all`) is one atomic round trip: a Lua script
//! (`token_bucket.lua`) refills, decides and writes on the server, by the server's clock.
//! Connecting works as for the cache: `new` does not connect, every call gives up after
//! `command_timeout`, and what to do while Redis is down (let requests through, say) is the
//! caller's choice, made on the error.

use std::fmt;
use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, RedisError, Script};

use super::{BucketRule, Decision, MAX_WAIT, RateLimitError, RateLimiter, Take};
use crate::cache::RedisOptions;

/// Sent by hash (EVALSHA); `invoke_async` loads it whenever a server does not know it yet,
/// such as after a restart.
static TOKEN_BUCKET: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("token_bucket.lua")));

/// Under `options.prefix`, so buckets sit beside the cache's entries without meeting them.
const KEY_INFIX: &str = "rl:";

#[derive(Clone)]
pub struct RedisRateLimiter {
    connection: ConnectionManager,
    options: RedisOptions,
}

impl fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRateLimiter")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl RedisRateLimiter {
    /// Parses the URL and prepares the connection without opening it, so the service starts
    /// while Redis is down; only a malformed URL is an error here.
    pub fn new(options: RedisOptions) -> Result<Self, RateLimitError> {
        let client = Client::open(options.url.as_str()).map_err(|err| backend("url", &err))?;
        // One connection attempt per reconnect, bounded by the command timeout: the default
        // retries would park every request behind backoff while Redis is down.
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(0)
            .set_connection_timeout(Some(options.command_timeout))
            .set_response_timeout(Some(options.command_timeout));
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|err| backend("connect", &err))?;
        let limiter = Self {
            connection,
            options,
        };
        // Connect and load the script in the background, so the first request pays for
        // neither; outside a runtime the first request simply does it.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let mut connection = limiter.connection.clone();
            let timeout = limiter.options.command_timeout;
            runtime.spawn(async move {
                let load = TOKEN_BUCKET.load_async(&mut connection);
                let _ = tokio::time::timeout(timeout, load).await;
            });
        }
        Ok(limiter)
    }

    fn key(&self, key: &str) -> String {
        format!("{}{KEY_INFIX}{key}", self.options.prefix)
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn take(
        &self,
        key: &str,
        rule: BucketRule,
        cost: u32,
    ) -> Result<Decision, RateLimitError> {
        let mut decisions = self.take_all(&[Take { key, rule, cost }]).await?;
        decisions
            .pop()
            .ok_or_else(|| RateLimitError::Backend("redis take: no answer".into()))
    }

    async fn take_all(&self, takes: &[Take<'_>]) -> Result<Vec<Decision>, RateLimitError> {
        if takes.is_empty() {
            return Ok(Vec::new());
        }
        let max_ms = u64::try_from(MAX_WAIT.as_millis()).unwrap_or(u64::MAX);
        let mut invocation = TOKEN_BUCKET.prepare_invoke();
        invocation.arg(max_ms);
        for take in takes {
            invocation
                .key(self.key(take.key))
                .arg(take.rule.burst)
                .arg(take.rule.rate())
                .arg(take.cost);
        }
        // When the connection dropped (Redis restarted, say), the manager opens a new one
        // and the takes are sent once more, so one restart does not fail a request. Should
        // the first attempt have reached the server after all, the client is charged twice:
        // an error on the strict side.
        let attempt = async {
            let mut connection = self.connection.clone();
            match invocation.invoke_async(&mut connection).await {
                Err(err) if err.is_unrecoverable_error() => {
                    invocation.invoke_async(&mut connection).await
                }
                result => result,
            }
        };
        let answers: Vec<i64> =
            match tokio::time::timeout(self.options.command_timeout, attempt).await {
                Ok(result) => result.map_err(|err| backend("take", &err))?,
                Err(_) => {
                    return Err(RateLimitError::Backend(format!(
                        "redis take: no answer within {:?}",
                        self.options.command_timeout
                    )));
                }
            };
        if answers.len() != takes.len() * 2 {
            return Err(RateLimitError::Backend(format!(
                "redis take: {} numbers for {} takes",
                answers.len(),
                takes.len()
            )));
        }
        Ok(answers
            .chunks_exact(2)
            .map(|answer| decision(answer[0], answer[1]))
            .collect())
    }
}

/// One take's answer from the script: allowed (1), or the wait in ms.
fn decision(allowed: i64, wait_ms: i64) -> Decision {
    if allowed == 1 {
        Decision::Allowed
    } else {
        let wait = Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0));
        Decision::Limited {
            retry_after: wait.clamp(Duration::from_millis(1), MAX_WAIT),
        }
    }
}

fn backend(operation: &str, err: &RedisError) -> RateLimitError {
    RateLimitError::Backend(format!("redis {operation}: {err}"))
}
