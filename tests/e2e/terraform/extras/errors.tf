# MAC 000413EE0001 belongs to the tenant "other": both resources must fail with a diagnostic
# on the attribute that names it.

resource "signpost_device" "stolen" {
  tenant = signpost_tenant.acme.id
  mac    = "00:04:13:ee:00:01"
  label  = "not ours"
}

resource "signpost_devices" "stolen" {
  tenant  = signpost_tenant.acme.id
  name    = "stolen"
  profile = signpost_profile.desk.profile_id
  macs    = ["000413EE0002", "00:04:13:ee:00:01"]
}
