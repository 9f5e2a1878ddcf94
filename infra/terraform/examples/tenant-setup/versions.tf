terraform {
  required_version = ">= 1.0"

  required_providers {
    # The Signpost provider (crates/terraform-provider, binary terraform-provider-signpost).
    # Until it is published to a registry, install a local build with a dev_overrides block in
    # your CLI configuration (see infra/README.md, "Tenant setup with Terraform").
    signpost = {
      source = "signpost/signpost"
    }
  }
}
