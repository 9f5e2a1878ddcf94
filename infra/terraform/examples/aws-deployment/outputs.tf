output "url" {
  description = "Where phones and API clients reach Signpost."
  value       = module.signpost.public_url
}

output "alb_dns_name" {
  description = "DNS name of the load balancer (the target of the domain's record)."
  value       = module.signpost.alb_dns_name
}

output "cluster_name" {
  description = "ECS cluster."
  value       = module.signpost.cluster_name
}

output "service_name" {
  description = "ECS service."
  value       = module.signpost.service_name
}

output "task_definition_family" {
  description = "Family of the serving task definition (earlier revisions are rollback targets)."
  value       = module.signpost.task_definition_family
}

output "migrate" {
  description = "Parameters of the migration task, read by infra/scripts/run-migrate.sh."
  value       = module.signpost.migrate
}

output "migrate_run_task_command" {
  description = "AWS CLI command that starts the migration task."
  value       = module.signpost.migrate_run_task_command
}

output "bucket_name" {
  description = "S3 bucket of hosted files."
  value       = module.signpost.bucket_name
}

output "log_group_name" {
  description = "CloudWatch log group of the tasks."
  value       = module.signpost.log_group_name
}

output "jwt_secret_arn" {
  description = "Secrets Manager secret holding the JWT signing secret (rotate as infra/README.md describes)."
  value       = module.signpost.jwt_secret_arn
}
