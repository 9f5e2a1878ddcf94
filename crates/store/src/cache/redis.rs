//! The shared cache: Redis, reached through one auto-reconnecting multiplexed connection for
//! commands and one dedicated connection per invalidation subscriber.
//!
//! Redis is an accelerator, never a dependency the service waits on: `new` does not connect,
//! every call gives up after `command_timeout`, and a Redis that is down (or comes back) is
//! only noticed by the calls themselves, so the phone path falls through to the registry.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::{StreamExt, stream};
use redis::aio::{ConnectionManager, ConnectionManagerConfig, PubSubSink, PubSubStream};
use redis::{Client, FromRedisValue, RedisError};
use tokio::sync::mpsc;

use super::{Cache, CacheError, Invalidation, InvalidationStream};

/// Backoff between attempts to re-establish an invalidation subscription.
const RESUBSCRIBE_MIN_DELAY: Duration = Duration::from_millis(100);
const RESUBSCRIBE_MAX_DELAY: Duration = Duration::from_secs(2);
/// How often an idle subscription connection is pinged: a peer that vanished without closing
/// the socket would otherwise leave the subscriber waiting forever.
const SUBSCRIPTION_HEARTBEAT: Duration = Duration::from_secs(10);
/// Invalidations buffered for a subscriber that is slow to read them.
const SUBSCRIBER_BUFFER: usize = 256;

#[derive(Clone)]
pub struct RedisOptions {
    pub url: String,
    /// Prepended to every key and to the invalidation channel's name.
    pub prefix: String,
    /// The longest any call (connecting included) may take before it fails.
    pub command_timeout: Duration,
}

impl fmt::Debug for RedisOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisOptions")
            .field("url", &redact_url(&self.url))
            .field("prefix", &self.prefix)
            .field("command_timeout", &self.command_timeout)
            .finish()
    }
}

#[derive(Clone)]
pub struct RedisCache {
    client: Client,
    connection: ConnectionManager,
    options: RedisOptions,
}

impl fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCache")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl RedisCache {
    /// Parses the URL and prepares the connection without opening it, so the service starts
    /// while Redis is down; only a malformed URL is an error here.
    pub async fn new(options: RedisOptions) -> Result<Self, CacheError> {
        let client = Client::open(options.url.as_str()).map_err(|err| backend("url", &err))?;
        // The defaults (six reconnect attempts with exponential backoff, per connection) would
        // park every call behind retries while Redis is down. One attempt per reconnect, each
        // bounded by the command timeout, lets calls fail fast; the next call tries again.
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(0)
            .set_connection_timeout(Some(options.command_timeout))
            .set_response_timeout(Some(options.command_timeout));
        let connection = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|err| backend("connect", &err))?;
        let cache = Self {
            client,
            connection,
            options,
        };
        // Warm the connection up in the background so the first request does not pay for it.
        let warm = cache.clone();
        tokio::spawn(async move {
            let _ = warm.check().await;
        });
        Ok(cache)
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.options.prefix)
    }

    fn channel(&self) -> String {
        format!("{}invalidate", self.options.prefix)
    }

    /// Runs one command within the command timeout.
    ///
    /// When a command fails because the connection dropped (say Redis restarted), the manager
    /// starts a new connection; the command is sent once more on it so that a single restart
    /// does not fail a request. Every command here is idempotent (a repeated invalidation is
    /// harmless), so the retry is safe.
    async fn run<T: FromRedisValue>(
        &self,
        operation: &'static str,
        command: &redis::Cmd,
    ) -> Result<T, CacheError> {
        let attempt = async {
            let mut connection = self.connection.clone();
            match command.query_async(&mut connection).await {
                Err(err) if err.is_unrecoverable_error() => {
                    command.query_async(&mut connection).await
                }
                result => result,
            }
        };
        match tokio::time::timeout(self.options.command_timeout, attempt).await {
            Ok(result) => result.map_err(|err| backend(operation, &err)),
            Err(_) => Err(CacheError::Backend(format!(
                "redis {operation}: no answer within {:?}",
                self.options.command_timeout
            ))),
        }
    }
}

#[async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        self.run("GET", redis::cmd("GET").arg(self.key(key))).await
    }

    async fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Bytes>>, CacheError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = keys.iter().map(|key| self.key(key)).collect();
        self.run("MGET", redis::cmd("MGET").arg(keys)).await
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), CacheError> {
        // Redis refuses a zero expiry; an entry that expires at once is simply not there.
        if ttl.is_zero() {
            return self.delete(&[key]).await;
        }
        // Round up so a sub-millisecond TTL still stores the entry briefly.
        let millis = u64::try_from(ttl.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX);
        let mut command = redis::cmd("SET");
        command
            .arg(self.key(key))
            .arg(value.as_ref())
            .arg("PX")
            .arg(millis);
        self.run("SET", &command).await
    }

    async fn delete(&self, keys: &[&str]) -> Result<(), CacheError> {
        if keys.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = keys.iter().map(|key| self.key(key)).collect();
        let _deleted: u64 = self.run("DEL", redis::cmd("DEL").arg(keys)).await?;
        Ok(())
    }

    async fn publish(&self, message: Bytes) -> Result<(), CacheError> {
        let mut command = redis::cmd("PUBLISH");
        command.arg(self.channel()).arg(message.as_ref());
        let _receivers: u64 = self.run("PUBLISH", &command).await?;
        Ok(())
    }

    async fn subscribe(&self) -> Result<InvalidationStream, CacheError> {
        let (sender, receiver) = mpsc::channel(SUBSCRIBER_BUFFER);
        let subscription = Subscription {
            client: self.client.clone(),
            channel: self.channel(),
            timeout: self.options.command_timeout,
            sender,
        };
        tokio::spawn(subscription.run());
        Ok(stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|item| (item, receiver))
        })
        .boxed())
    }

    async fn check(&self) -> Result<(), CacheError> {
        let _pong: String = self.run("PING", &redis::cmd("PING")).await?;
        Ok(())
    }
}

/// The task behind one subscriber's stream: holds a dedicated pub/sub connection, and opens a
/// new one whenever it is lost. It ends when the subscriber drops its stream.
struct Subscription {
    client: Client,
    channel: String,
    timeout: Duration,
    sender: mpsc::Sender<Invalidation>,
}

enum Ended {
    SubscriberGone,
    ConnectionLost(String),
}

impl Subscription {
    async fn run(self) {
        let mut delay = RESUBSCRIBE_MIN_DELAY;
        let mut failing = false;
        loop {
            let opened = tokio::select! {
                () = self.sender.closed() => return,
                opened = self.open() => opened,
            };
            match opened {
                Ok((sink, messages)) => {
                    if failing {
                        tracing::info!(channel = %self.channel, "redis invalidation subscription re-established");
                    }
                    failing = false;
                    delay = RESUBSCRIBE_MIN_DELAY;
                    // Whatever was published while no subscription existed is lost.
                    if self.sender.send(Invalidation::Resync).await.is_err() {
                        return;
                    }
                    match self.forward(sink, messages).await {
                        Ended::SubscriberGone => return,
                        Ended::ConnectionLost(reason) => {
                            tracing::warn!(channel = %self.channel, %reason, "redis invalidation subscription lost; reconnecting");
                        }
                    }
                }
                Err(reason) if !failing => {
                    failing = true;
                    tracing::warn!(channel = %self.channel, %reason, "redis invalidation subscription failed; retrying");
                }
                Err(reason) => {
                    tracing::debug!(channel = %self.channel, %reason, ?delay, "redis invalidation subscription still failing");
                }
            }
            tokio::select! {
                () = self.sender.closed() => return,
                () = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(RESUBSCRIBE_MAX_DELAY);
        }
    }

    async fn open(&self) -> Result<(PubSubSink, PubSubStream), String> {
        let subscribe = async {
            let mut pubsub = self.client.get_async_pubsub().await?;
            pubsub.subscribe(&self.channel).await?;
            Ok::<_, RedisError>(pubsub.split())
        };
        match tokio::time::timeout(self.timeout, subscribe).await {
            Ok(Ok(subscribed)) => Ok(subscribed),
            Ok(Err(err)) => Err(err.to_string()),
            Err(_) => Err(format!("no answer within {:?}", self.timeout)),
        }
    }

    async fn forward(&self, mut sink: PubSubSink, mut messages: PubSubStream) -> Ended {
        let mut heartbeat = tokio::time::interval(SUBSCRIPTION_HEARTBEAT);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        heartbeat.tick().await;
        loop {
            tokio::select! {
                () = self.sender.closed() => return Ended::SubscriberGone,
                message = messages.next() => {
                    let Some(message) = message else {
                        return Ended::ConnectionLost("connection closed".to_owned());
                    };
                    let payload = Bytes::copy_from_slice(message.get_payload_bytes());
                    if self.sender.send(Invalidation::Message(payload)).await.is_err() {
                        return Ended::SubscriberGone;
                    }
                }
                _ = heartbeat.tick() => {
                    match tokio::time::timeout(self.timeout, sink.ping::<redis::Value>()).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(err)) => return Ended::ConnectionLost(err.to_string()),
                        Err(_) => {
                            return Ended::ConnectionLost(format!("no answer to PING within {:?}", self.timeout));
                        }
                    }
                }
            }
        }
    }
}

fn backend(operation: &str, err: &RedisError) -> CacheError {
    CacheError::Backend(format!("redis {operation}: {err}"))
}

/// The URL with any credentials (user info, or a `pass`/`password` query parameter as on a
/// Unix socket URL) replaced, for logs and `Debug`. Errs on the side of hiding too much: a
/// password with an unescaped `/` or `@` must not leak either.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<unparseable url>".to_owned();
    };
    let (rest, query) = match rest.split_once('?') {
        Some((rest, query)) => (rest, Some(query)),
        None => (rest, None),
    };
    let mut redacted = format!("{scheme}://");
    match rest.rsplit_once('@') {
        Some((userinfo, host)) => {
            match userinfo.split_once(':') {
                Some((user, _password)) if !user.contains('/') => {
                    redacted.push_str(user);
                    redacted.push_str(":***@");
                }
                // A lone user-info part may well be a password given without a user.
                _ => redacted.push_str("***@"),
            }
            redacted.push_str(host);
        }
        None => redacted.push_str(rest),
    }
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if matches!(name, "pass" | "password") => format!("{name}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        redacted.push('?');
        redacted.push_str(&pairs.join("&"));
    }
    redacted
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn redacted_urls_carry_no_credentials() {
        assert_eq!(
            redact_url("redis://user:s3cret@cache:6379/0"),
            "redis://user:***@cache:6379/0"
        );
        assert_eq!(redact_url("rediss://:s3cret@cache"), "rediss://:***@cache");
        assert_eq!(redact_url("redis://s3cret@cache"), "redis://***@cache");
        assert_eq!(
            redact_url("redis+unix:///run/redis.sock?db=1&pass=s3cret"),
            "redis+unix:///run/redis.sock?db=1&pass=***"
        );
        assert_eq!(
            redact_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
        assert_eq!(
            redact_url("redis://:pa/ss@w0rd@cache"),
            "redis://:***@cache"
        );
        assert_eq!(redact_url("s3cret"), "<unparseable url>");
    }
}
