# One MSP tenant set up with the Signpost provider: a tenant, two profiles (one pointing at the
# tenant's PBX, one at files hosted by Signpost), devices, an API key for the PBX's own tooling
# and hosted setting files.

resource "signpost_tenant" "acme" {
  id                     = var.tenant
  display_name           = "Acme Telecom"
  default_setting_server = "https://pbx.acme.example/prov/default/{mac}.xml"
}

# Desk phones provision from the tenant's PBX.
resource "signpost_profile" "desk" {
  tenant         = signpost_tenant.acme.id
  profile_id     = "desk-phones"
  setting_server = var.pbx_setting_server

  extra_settings {
    name  = "update_policy"
    value = "auto_update"
    perm  = "read-only"
  }
}

# Conference phones get the setting files Signpost hosts (see signpost_file below): the word
# "hosted" sends each phone to its own signed URL under public_url.
resource "signpost_profile" "conference" {
  tenant         = signpost_tenant.acme.id
  profile_id     = "conference"
  setting_server = "hosted"
}

# Many devices in one profile (one batch call).
resource "signpost_devices" "desk" {
  tenant  = signpost_tenant.acme.id
  profile = signpost_profile.desk.profile_id
  macs    = var.desk_phone_macs
}

# A single device, with a label.
resource "signpost_device" "boardroom" {
  tenant  = signpost_tenant.acme.id
  mac     = "00:04:13:AA:BB:CC"
  profile = signpost_profile.conference.profile_id
  label   = "boardroom"
}

# A key for the PBX's provisioning sync (tenant-admin inside this tenant only). Its secret is
# known only at creation and is stored, sensitive, in the state.
resource "signpost_api_key" "pbx_sync" {
  tenant      = signpost_tenant.acme.id
  role        = "tenant-admin"
  description = "pbx-sync"
}

# Hosted files: a settings document for every conference phone of the type, and a per-MAC
# template ({mac}, {phone_type}, {firmware_version} are filled in per phone when served).
resource "signpost_file" "conference_settings" {
  tenant = signpost_tenant.acme.id
  path   = "snomD785.htm"
  source = "${path.module}/files/snomD785.htm"
}

resource "signpost_file" "boardroom_settings" {
  tenant   = signpost_tenant.acme.id
  path     = "snomD785-000413AABBCC.htm"
  template = true
  content  = templatefile("${path.module}/files/phone.htm.tpl", { display_name = "Boardroom" })
}
