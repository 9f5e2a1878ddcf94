locals {
  tags = merge({ "signpost:deployment" = var.name }, var.tags)

  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id

  container_name    = "signpost"
  db_port_number    = 5432
  redis_port_number = 6379

  migrate_image = var.migrate_image == null ? var.image : var.migrate_image

  # Default: every IPv4 range of the VPC (the primary and any secondary CIDR), where the ALB's
  # nodes get their addresses.
  vpc_cidrs           = distinct(concat([data.aws_vpc.this.cidr_block], [for a in data.aws_vpc.this.cidr_block_associations : a.cidr_block]))
  trusted_proxies     = length(var.trusted_proxies) > 0 ? var.trusted_proxies : local.vpc_cidrs
  database_subnet_ids = length(var.database_subnet_ids) > 0 ? var.database_subnet_ids : var.private_subnet_ids

  # The ECR repositories of the images, when they are in ECR: the execution role may pull from
  # those alone. An image elsewhere (a public registry) needs no ECR permission.
  ecr_image_pattern = "^([0-9]{12})\\.dkr\\.ecr\\.([a-z0-9-]+)\\.amazonaws\\.com(?:\\.cn)?/([^:@]+)"
  ecr_matches       = [for image in distinct([var.image, local.migrate_image]) : try(regex(local.ecr_image_pattern, image), [])]
  ecr_repository_arns = distinct([
    for m in local.ecr_matches : "arn:${local.partition}:ecr:${m[1]}:${m[0]}:repository/${m[2]}" if length(m) == 3
  ])

  # rediss:// with the AUTH token (a secret) when in-transit encryption is on, else redis://.
  redis_host = aws_elasticache_replication_group.this.primary_endpoint_address
  redis_port = local.redis_port_number
  redis_url = (
    var.redis_transit_encryption
    ? "rediss://:${random_password.redis[0].result}@${local.redis_host}:${local.redis_port}"
    : "redis://${local.redis_host}:${local.redis_port}"
  )

  # sslmode=require: TLS without checking the certificate against a CA (RDS certificates are
  # signed by the RDS CA, which is not in the image's trust store). PostgreSQL 15+ on RDS
  # refuses unencrypted connections by default.
  database_url = format(
    "postgres://%s:%s@%s:%d/%s?sslmode=require",
    aws_db_instance.this.username,
    random_password.db.result,
    aws_db_instance.this.address,
    aws_db_instance.this.port,
    aws_db_instance.this.db_name,
  )

  # Plain environment of the serving container. extra_environment wins over these.
  environment_map = merge(
    {
      SIGNPOST_LISTEN                   = "0.0.0.0:${var.container_port}"
      SIGNPOST_LOG_FORMAT               = "json"
      SIGNPOST_PUBLIC_URL               = var.public_url
      SIGNPOST_TRUSTED_PROXIES          = join(",", local.trusted_proxies)
      SIGNPOST_S3_BUCKET                = aws_s3_bucket.files.id
      SIGNPOST_S3_REGION                = local.region
      SIGNPOST_REDIS_PREFIX             = var.redis_prefix
      SIGNPOST_DATABASE_MAX_CONNECTIONS = tostring(var.database_max_connections)
      RUST_LOG                          = var.log_level
    },
    var.redis_transit_encryption ? {} : { SIGNPOST_REDIS_URL = local.redis_url },
    var.extra_environment,
  )
  environment = [for k in sort(keys(local.environment_map)) : { name = k, value = local.environment_map[k] }]

  # Secrets Manager values injected by ECS when a task starts (a new deployment picks up new
  # values). The JWT secret is JSON: {"current": "...", "previous": "..."}.
  secrets = concat(
    [
      { name = "SIGNPOST_JWT_SECRET", valueFrom = "${aws_secretsmanager_secret.jwt.arn}:current::" },
      { name = "SIGNPOST_DATABASE_URL", valueFrom = aws_secretsmanager_secret.database_url.arn },
    ],
    var.jwt_previous_secrets_enabled ? [
      { name = "SIGNPOST_JWT_PREVIOUS_SECRETS", valueFrom = "${aws_secretsmanager_secret.jwt.arn}:previous::" },
    ] : [],
    var.redis_transit_encryption ? [
      { name = "SIGNPOST_REDIS_URL", valueFrom = aws_secretsmanager_secret.redis_url[0].arn },
    ] : [],
  )

  # Every secret the execution role may read.
  secret_arns = concat(
    [aws_secretsmanager_secret.jwt.arn, aws_secretsmanager_secret.database_url.arn],
    aws_secretsmanager_secret.redis_url[*].arn,
  )
}
