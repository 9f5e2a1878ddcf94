# Every setting may also come from the environment, which keeps the secret out of files:
#   SIGNPOST_ENDPOINT=https://signpost.example.com
#   SIGNPOST_KEY_ID=spk_...      SIGNPOST_KEY_SECRET=sps_...
# (These variables are for the provider only: do not export them where `signpost serve` runs,
# which refuses SIGNPOST_* names it does not know.)
#
# The key must be a platform-admin key to create the tenant; a tenant-admin key of the tenant
# can manage everything inside it (drop the signpost_tenant resource then).
provider "signpost" {
  endpoint   = var.signpost_endpoint
  key_id     = var.signpost_key_id
  key_secret = var.signpost_key_secret
}
