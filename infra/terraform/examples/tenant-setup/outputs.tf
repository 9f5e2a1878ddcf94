output "tenant" {
  description = "Id of the tenant."
  value       = signpost_tenant.acme.id
}

output "pbx_sync_key_id" {
  description = "Id of the PBX sync API key."
  value       = signpost_api_key.pbx_sync.key_id
}

output "pbx_sync_key_secret" {
  description = "Secret of the PBX sync API key (terraform output -raw pbx_sync_key_secret)."
  value       = signpost_api_key.pbx_sync.secret
  sensitive   = true
}
