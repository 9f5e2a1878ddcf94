# PostgreSQL registry on RDS: encrypted, in private subnets, reachable from the tasks only.
#
# The password is generated here and handed to Signpost inside SIGNPOST_DATABASE_URL (a Secrets
# Manager secret, see secrets.tf), because Signpost takes one URL and no separate password.
# RDS's managed master user password (manage_master_user_password) is deliberately not used:
# it lives in a secret RDS rotates on its own schedule, and a URL built from it would break at
# the first rotation. Consequence: the password is in the Terraform state, so keep the state
# encrypted and access-controlled (e.g. an S3 backend with SSE and a restrictive bucket policy).

resource "random_password" "db" {
  length  = 40
  special = false # the password goes into a URL unescaped
}

resource "aws_db_subnet_group" "this" {
  name        = var.name
  description = "Signpost registry (${var.name})"
  subnet_ids  = local.database_subnet_ids
  tags        = local.tags
}

resource "aws_db_instance" "this" {
  identifier     = var.name
  engine         = "postgres"
  engine_version = var.db_engine_version
  instance_class = var.db_instance_class

  allocated_storage     = var.db_allocated_storage
  max_allocated_storage = var.db_max_allocated_storage
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = var.kms_key_arn

  db_name  = var.db_name
  username = var.db_username
  password = random_password.db.result
  port     = local.db_port_number

  multi_az               = var.db_multi_az
  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = [aws_security_group.db.id]
  publicly_accessible    = false
  parameter_group_name   = var.db_parameter_group_name

  backup_retention_period   = var.db_backup_retention_days
  copy_tags_to_snapshot     = true
  deletion_protection       = var.deletion_protection
  skip_final_snapshot       = var.db_skip_final_snapshot
  final_snapshot_identifier = var.db_skip_final_snapshot ? null : "${var.name}-final"

  auto_minor_version_upgrade  = true
  allow_major_version_upgrade = false
  apply_immediately           = var.apply_immediately

  performance_insights_enabled    = var.db_performance_insights
  performance_insights_kms_key_id = var.db_performance_insights ? var.kms_key_arn : null

  tags = local.tags
}
