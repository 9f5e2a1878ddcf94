data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

# The VPC's CIDR ranges are the default for SIGNPOST_TRUSTED_PROXIES: the ALB's nodes live in
# them and append the client's address to X-Forwarded-For.
data "aws_vpc" "this" {
  id = var.vpc_id
}
