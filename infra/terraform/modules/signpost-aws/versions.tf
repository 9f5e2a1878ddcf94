# Terraform 1.0 or later: the module uses no language feature newer than 1.0 (no optional()
# object attributes, no `nullable`, no pre/postconditions, no moved blocks), and
# tests/e2e/infra_terraform.sh checks it with Terraform 1.0.3.
terraform {
  required_version = ">= 1.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
    # Generates the JWT secret, the database password and the Redis AUTH token.
    random = {
      source  = "hashicorp/random"
      version = "~> 3.1"
    }
  }
}
