provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Application = "signpost"
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}
