# Secrets Manager secrets that ECS injects into the tasks at start (the execution role reads
# them; the running application never calls Secrets Manager). Generated values are in the
# Terraform state: keep the state encrypted and access-controlled.
#
# name_prefix rather than name: a deleted secret keeps its name for the recovery window, so a
# fixed name could not be created again right away.

# ---------------------------------------------------------------------------------------------
# JWT signing secret, as JSON {"current": "..."}: SIGNPOST_JWT_SECRET is its "current" key, and
# while jwt_previous_secrets_enabled is true SIGNPOST_JWT_PREVIOUS_SECRETS is its "previous" key.
# All replicas read the same secret, as Signpost requires. Terraform writes only the first
# value; rotations are written with the AWS CLI (see infra/README.md) and Terraform leaves them.

resource "random_password" "jwt" {
  length  = 64 # Signpost needs at least 32 bytes
  special = false
}

resource "aws_secretsmanager_secret" "jwt" {
  name_prefix             = "${var.name}/jwt-secret-"
  description             = "Signpost (${var.name}): JWT signing secret, JSON {\"current\": ..., \"previous\": ...}"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_days
  tags                    = local.tags
}

resource "aws_secretsmanager_secret_version" "jwt" {
  secret_id     = aws_secretsmanager_secret.jwt.id
  secret_string = jsonencode({ current = random_password.jwt.result })

  lifecycle {
    ignore_changes = [secret_string, version_stages]
  }
}

# ---------------------------------------------------------------------------------------------
# SIGNPOST_DATABASE_URL: postgres://user:password@host:5432/db?sslmode=require. Managed by
# Terraform: it follows the RDS endpoint and the generated password.

resource "aws_secretsmanager_secret" "database_url" {
  name_prefix             = "${var.name}/database-url-"
  description             = "Signpost (${var.name}): SIGNPOST_DATABASE_URL"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_days
  tags                    = local.tags
}

resource "aws_secretsmanager_secret_version" "database_url" {
  secret_id     = aws_secretsmanager_secret.database_url.id
  secret_string = local.database_url
}

# ---------------------------------------------------------------------------------------------
# SIGNPOST_REDIS_URL, only with in-transit encryption: rediss://:AUTH_TOKEN@host:6379. Without
# it the URL holds no credential and is a plain environment variable.

resource "aws_secretsmanager_secret" "redis_url" {
  count = var.redis_transit_encryption ? 1 : 0

  name_prefix             = "${var.name}/redis-url-"
  description             = "Signpost (${var.name}): SIGNPOST_REDIS_URL"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_days
  tags                    = local.tags
}

resource "aws_secretsmanager_secret_version" "redis_url" {
  count = var.redis_transit_encryption ? 1 : 0

  secret_id     = aws_secretsmanager_secret.redis_url[0].id
  secret_string = local.redis_url
}
