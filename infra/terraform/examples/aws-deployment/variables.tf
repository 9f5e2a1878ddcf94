variable "region" {
  description = "AWS region to deploy into (the certificate must be in it too)."
  type        = string
  default     = "eu-central-1"
}

variable "environment" {
  description = "Environment name, used in the deployment's name and tags (e.g. production, staging)."
  type        = string
  default     = "production"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,18}$", var.environment))
    error_message = "The environment must be lower case letters, digits and hyphens (at most 19), starting with a letter."
  }
}

variable "vpc_id" {
  description = "ID of the existing VPC."
  type        = string
}

variable "public_subnet_ids" {
  description = "Public subnets (two or more availability zones) for the load balancer."
  type        = list(string)
}

variable "private_subnet_ids" {
  description = "Private subnets (two or more availability zones, with a NAT gateway or VPC endpoints) for the tasks, Redis and PostgreSQL."
  type        = list(string)
}

variable "image" {
  description = "Signpost image to serve, e.g. 123456789012.dkr.ecr.eu-central-1.amazonaws.com/signpost:1.2.3 (see infra/README.md for building and pushing it)."
  type        = string
}

variable "migrate_image" {
  description = "Image of the migration task; null: the same as image. Set it to the next release first, run the migration, then set image (infra/README.md, \"Deploying a new release\")."
  type        = string
  default     = null
}

variable "domain_name" {
  description = "Host name phones and API clients use, e.g. signpost.example.com. SIGNPOST_PUBLIC_URL becomes https://<domain_name>."
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate for domain_name in the same region (aws acm request-certificate --domain-name ... --validation-method DNS)."
  type        = string
}

variable "route53_zone_id" {
  description = "Route 53 hosted zone of domain_name. When set, an alias record pointing domain_name at the load balancer is created; null: create the DNS record yourself (CNAME to the alb_dns_name output)."
  type        = string
  default     = null
}

variable "allowed_ingress_cidrs" {
  description = "IPv4 ranges allowed to reach the load balancer."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "desired_count" {
  description = "Replicas at creation; autoscaling keeps the count between min_capacity and max_capacity."
  type        = number
  default     = 2
}

variable "min_capacity" {
  description = "Fewest replicas."
  type        = number
  default     = 2
}

variable "max_capacity" {
  description = "Most replicas (mind max_capacity x database_max_connections against the database's max_connections)."
  type        = number
  default     = 10
}

variable "deletion_protection" {
  description = "Deletion protection of the database and load balancer; set false and apply before terraform destroy."
  type        = bool
  default     = true
}
