# The configuration tests/e2e/terraform_provider.py applies, changes and destroys: one tenant
# with every resource type of the signpost provider. Values come from terraform.tfvars.json,
# written by the test.

terraform {
  required_providers {
    signpost = { source = "signpost/signpost" }
  }
}

variable "endpoint" { type = string }
variable "profile_url" { type = string }
variable "macs" { type = list(string) }
variable "lobby_macs" { type = list(string) }
variable "reception_mac" { type = string }
variable "firmware_source" { type = string }

# key_id and key_secret come from SIGNPOST_KEY_ID / SIGNPOST_KEY_SECRET.
provider "signpost" {
  endpoint = var.endpoint
}

resource "signpost_tenant" "acme" {
  id           = "acme"
  display_name = "Acme Telecom"
}

resource "signpost_profile" "desk" {
  tenant         = signpost_tenant.acme.id
  profile_id     = "desk"
  setting_server = var.profile_url

  extra_settings {
    name  = "update_policy"
    value = "auto_update"
    perm  = "read-only"
  }
  extra_settings {
    name  = "user_realname"
    idx   = 1
    value = "Front desk"
  }
}

resource "signpost_devices" "desk" {
  tenant  = signpost_tenant.acme.id
  profile = signpost_profile.desk.profile_id
  label   = "desk phone"
  macs    = toset(var.macs)
}

# A group without a profile: its own setting server, and a name for its id.
resource "signpost_devices" "lobby" {
  tenant         = signpost_tenant.acme.id
  name           = "lobby"
  setting_server = "https://lobby.acme.example/{mac}"
  macs           = var.lobby_macs
}

resource "signpost_device" "reception" {
  tenant         = signpost_tenant.acme.id
  mac            = var.reception_mac
  setting_server = "https://reception.acme.example/{mac}.xml"
  label          = "reception"
}

resource "signpost_api_key" "pbx" {
  tenant      = signpost_tenant.acme.id
  role        = "tenant-reader"
  description = "pbx-sync"
}

resource "signpost_file" "d785" {
  tenant   = signpost_tenant.acme.id
  path     = "snomD785.htm"
  template = true
  content  = "<settings><phone-settings><user_name idx=\"1\">{mac}</user_name></phone-settings></settings>\n"
}

resource "signpost_file" "firmware" {
  tenant       = signpost_tenant.acme.id
  path         = "fw/snomD785-10.1.bin"
  source       = var.firmware_source
  content_type = "application/octet-stream"
}

data "signpost_tenant" "acme" {
  id = signpost_tenant.acme.id
}

data "signpost_device" "reception" {
  tenant = signpost_tenant.acme.id
  mac    = signpost_device.reception.mac
}

output "tenant_name" {
  value = data.signpost_tenant.acme.display_name
}

output "reception_label" {
  value = data.signpost_device.reception.label
}

output "pbx_key_id" {
  value = signpost_api_key.pbx.key_id
}

output "pbx_key_secret" {
  value     = signpost_api_key.pbx.secret
  sensitive = true
}

output "firmware_sha256" {
  value = signpost_file.firmware.sha256
}
