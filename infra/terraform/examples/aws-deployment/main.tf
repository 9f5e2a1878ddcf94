# A production deployment of Signpost into an existing VPC: see infra/README.md.

locals {
  name = "signpost-${var.environment}"
}

module "signpost" {
  source = "../../modules/signpost-aws"

  name = local.name

  vpc_id                = var.vpc_id
  public_subnet_ids     = var.public_subnet_ids
  private_subnet_ids    = var.private_subnet_ids
  allowed_ingress_cidrs = var.allowed_ingress_cidrs

  image           = var.image
  migrate_image   = var.migrate_image
  public_url      = "https://${var.domain_name}"
  certificate_arn = var.certificate_arn

  desired_count = var.desired_count
  min_capacity  = var.min_capacity
  max_capacity  = var.max_capacity

  # Snom phones at boot may only speak plain HTTP to the redirect path; the API, XML-RPC and
  # hosted files are redirected to HTTPS regardless.
  allow_plain_http_phone_paths = true

  db_instance_class        = "db.t4g.medium"
  db_multi_az              = true
  database_max_connections = 10 # 2 x max_capacity 10 x 10 = 200 during a deployment; db.t4g.medium allows ~400

  redis_node_type          = "cache.t4g.small"
  redis_num_cache_clusters = 2

  log_retention_days                 = 30
  noncurrent_version_expiration_days = 30
  deletion_protection                = var.deletion_protection

  extra_environment = {
    # Any further SIGNPOST_* key from the README's configuration reference, e.g.:
    SIGNPOST_CACHE_TTL_SECONDS = "300"
  }
}

# DNS: domain_name -> the load balancer (when the zone is in Route 53).
resource "aws_route53_record" "signpost" {
  count = var.route53_zone_id == null ? 0 : 1

  zone_id = var.route53_zone_id
  name    = var.domain_name
  type    = "A"

  alias {
    name                   = module.signpost.alb_dns_name
    zone_id                = module.signpost.alb_zone_id
    evaluate_target_health = false
  }
}
