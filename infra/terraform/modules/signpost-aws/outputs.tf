# ---------------------------------------------------------------------------------------------
# Load balancer and DNS

output "alb_dns_name" {
  description = "DNS name of the load balancer: point the public host name (public_url) at it, with a Route 53 alias record or a CNAME."
  value       = aws_lb.this.dns_name
}

output "alb_zone_id" {
  description = "Route 53 hosted zone ID of the load balancer, for an alias record."
  value       = aws_lb.this.zone_id
}

output "alb_arn" {
  description = "ARN of the load balancer."
  value       = aws_lb.this.arn
}

output "target_group_arn" {
  description = "ARN of the target group the service registers its tasks in."
  value       = aws_lb_target_group.this.arn
}

output "public_url" {
  description = "SIGNPOST_PUBLIC_URL as given to the tasks."
  value       = var.public_url
}

# ---------------------------------------------------------------------------------------------
# ECS

output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = aws_ecs_cluster.this.arn
}

output "service_name" {
  description = "Name of the ECS service running `signpost serve`."
  value       = aws_ecs_service.this.name
}

output "task_definition_arn" {
  description = "ARN (with revision) of the serving task definition now deployed. Roll back by pointing the service at an earlier revision of this family."
  value       = aws_ecs_task_definition.serve.arn
}

output "task_definition_family" {
  description = "Family of the serving task definition (its earlier revisions are the rollback targets)."
  value       = aws_ecs_task_definition.serve.family
}

output "migrate_task_definition_arn" {
  description = "ARN of the one-off task definition that runs `signpost migrate`."
  value       = aws_ecs_task_definition.migrate.arn
}

output "migrate" {
  description = "Everything needed to run the migration task: region, cluster, task definition, subnets, security groups, whether to assign a public IP, and the log group and stream prefix (read by infra/scripts/run-migrate.sh)."
  value = {
    region              = local.region
    cluster             = aws_ecs_cluster.this.name
    task_definition_arn = aws_ecs_task_definition.migrate.arn
    container_name      = local.container_name
    subnet_ids          = var.private_subnet_ids
    security_group_ids  = [aws_security_group.tasks.id]
    assign_public_ip    = var.assign_public_ip
    log_group_name      = aws_cloudwatch_log_group.this.name
    log_stream_prefix   = "migrate"
  }
}

output "migrate_run_task_command" {
  description = "AWS CLI command that starts the migration task (then wait for it: `aws ecs wait tasks-stopped` and check the container's exit code, or use infra/scripts/run-migrate.sh, which does both)."
  value = join(" ", [
    "aws ecs run-task",
    "--region ${local.region}",
    "--cluster ${aws_ecs_cluster.this.name}",
    "--task-definition ${aws_ecs_task_definition.migrate.arn}",
    "--launch-type FARGATE",
    format(
      "--network-configuration 'awsvpcConfiguration={subnets=[%s],securityGroups=[%s],assignPublicIp=%s}'",
      join(",", var.private_subnet_ids),
      aws_security_group.tasks.id,
      var.assign_public_ip ? "ENABLED" : "DISABLED",
    ),
  ])
}

output "tasks_security_group_id" {
  description = "Security group of the Signpost tasks (serving and migration)."
  value       = aws_security_group.tasks.id
}

output "alb_security_group_id" {
  description = "Security group of the load balancer."
  value       = aws_security_group.alb.id
}

output "task_role_arn" {
  description = "ARN of the task role (what Signpost runs as: the files bucket)."
  value       = aws_iam_role.task.arn
}

output "execution_role_arn" {
  description = "ARN of the execution role (what ECS starts the tasks with: image, logs, secrets)."
  value       = aws_iam_role.execution.arn
}

output "log_group_name" {
  description = "CloudWatch log group of the tasks (streams serve/... and migrate/...)."
  value       = aws_cloudwatch_log_group.this.name
}

output "trusted_proxies" {
  description = "SIGNPOST_TRUSTED_PROXIES as given to the tasks."
  value       = local.trusted_proxies
}

# ---------------------------------------------------------------------------------------------
# Backends

output "bucket_name" {
  description = "Name of the S3 bucket of hosted files (SIGNPOST_S3_BUCKET)."
  value       = aws_s3_bucket.files.id
}

output "bucket_arn" {
  description = "ARN of the S3 bucket of hosted files."
  value       = aws_s3_bucket.files.arn
}

output "db_instance_identifier" {
  description = "Identifier of the RDS instance."
  value       = aws_db_instance.this.identifier
}

output "db_address" {
  description = "Host name of the RDS instance."
  value       = aws_db_instance.this.address
}

output "db_port" {
  description = "Port of the RDS instance."
  value       = aws_db_instance.this.port
}

output "redis_primary_endpoint" {
  description = "Primary endpoint address of the ElastiCache replication group."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "redis_url_scheme" {
  description = "Scheme of SIGNPOST_REDIS_URL: redis (plain) or rediss (TLS, with an AUTH token kept in Secrets Manager)."
  value       = var.redis_transit_encryption ? "rediss" : "redis"
}

# ---------------------------------------------------------------------------------------------
# Secrets (ARNs only; the values stay in Secrets Manager)

output "jwt_secret_arn" {
  description = "ARN of the JWT secret (JSON {\"current\": ..., \"previous\": ...}); rotate it as infra/README.md describes."
  value       = aws_secretsmanager_secret.jwt.arn
}

output "database_url_secret_arn" {
  description = "ARN of the SIGNPOST_DATABASE_URL secret."
  value       = aws_secretsmanager_secret.database_url.arn
}

output "redis_url_secret_arn" {
  description = "ARN of the SIGNPOST_REDIS_URL secret, or null when Redis runs without in-transit encryption (the URL is then a plain environment variable)."
  value       = var.redis_transit_encryption ? aws_secretsmanager_secret.redis_url[0].arn : null
}
