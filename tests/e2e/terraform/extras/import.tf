# Objects made through the REST API, imported into these blocks by the test.

resource "signpost_device" "imported" {
  tenant  = signpost_tenant.acme.id
  mac     = "00-04-13-aa-00-99" # another spelling of the imported 000413AA0099
  profile = signpost_profile.desk.profile_id
  label   = "made by hand"
}

resource "signpost_api_key" "imported" {
  tenant      = signpost_tenant.acme.id
  role        = "tenant-admin"
  description = "made by hand"
}
