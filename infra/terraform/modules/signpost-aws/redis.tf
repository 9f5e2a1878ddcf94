# Redis on ElastiCache: the shared cache tier, the invalidation channel (pub/sub) and the rate
# limit buckets of all replicas. A replication group with cluster mode disabled: one primary
# (Signpost talks to its endpoint) and num_cache_clusters - 1 replicas for failover.
#
# Everything in it can be rebuilt: when Redis is down, Signpost keeps serving from each
# replica's memory and the registry (see the main README, "Caching and outages").

resource "aws_elasticache_subnet_group" "this" {
  name        = var.name
  description = "Signpost cache (${var.name})"
  subnet_ids  = var.private_subnet_ids
  tags        = local.tags
}

# ElastiCache accepts an AUTH token only together with in-transit encryption.
resource "random_password" "redis" {
  count = var.redis_transit_encryption ? 1 : 0

  length  = 64
  special = false # AUTH tokens forbid some characters, and the token goes into a URL
}

resource "aws_elasticache_replication_group" "this" {
  replication_group_id = var.name
  description          = "Signpost cache, invalidation channel and rate limits (${var.name})"

  engine               = "redis"
  engine_version       = var.redis_engine_version
  parameter_group_name = var.redis_parameter_group_name
  node_type            = var.redis_node_type
  port                 = local.redis_port_number

  num_cache_clusters         = var.redis_num_cache_clusters
  automatic_failover_enabled = var.redis_num_cache_clusters > 1
  multi_az_enabled           = var.redis_num_cache_clusters > 1

  subnet_group_name  = aws_elasticache_subnet_group.this.name
  security_group_ids = [aws_security_group.redis.id]

  at_rest_encryption_enabled = true
  kms_key_id                 = var.kms_key_arn
  transit_encryption_enabled = var.redis_transit_encryption
  auth_token                 = var.redis_transit_encryption ? random_password.redis[0].result : null

  snapshot_retention_limit   = var.redis_snapshot_retention_limit
  auto_minor_version_upgrade = true
  apply_immediately          = var.apply_immediately

  tags = local.tags
}
