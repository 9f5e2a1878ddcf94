# A large signpost_devices group: its apply must be ONE batch call.

terraform {
  required_providers {
    signpost = { source = "signpost/signpost" }
  }
}

variable "macs" { type = list(string) }

# endpoint, key_id and key_secret all come from the SIGNPOST_* environment variables.
provider "signpost" {}

resource "signpost_tenant" "bulk" {
  id           = "bulk"
  display_name = "Bulk Telecom"
}

resource "signpost_profile" "fleet" {
  tenant         = signpost_tenant.bulk.id
  profile_id     = "fleet"
  setting_server = "https://prov.bulk.example/{mac}"
}

resource "signpost_devices" "fleet" {
  tenant  = signpost_tenant.bulk.id
  profile = signpost_profile.fleet.profile_id
  macs    = toset(var.macs)
}
