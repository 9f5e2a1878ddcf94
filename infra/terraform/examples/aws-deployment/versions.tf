terraform {
  required_version = ">= 1.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.1"
    }
  }

  # Keep the state remote, encrypted and locked: it holds the generated database password, JWT
  # secret and (with in-transit encryption) Redis AUTH token. For example:
  #
  # backend "s3" {
  #   bucket         = "acme-terraform-state"
  #   key            = "signpost/production.tfstate"
  #   region         = "eu-central-1"
  #   encrypt        = true
  #   dynamodb_table = "terraform-locks"
  # }
}
