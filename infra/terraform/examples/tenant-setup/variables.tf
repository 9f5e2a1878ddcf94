variable "signpost_endpoint" {
  description = "Base URL of the Signpost API, e.g. https://signpost.example.com. Null: SIGNPOST_ENDPOINT."
  type        = string
  default     = null
}

variable "signpost_key_id" {
  description = "API key id (spk_...). Null: SIGNPOST_KEY_ID."
  type        = string
  default     = null
}

variable "signpost_key_secret" {
  description = "API key secret (sps_...). Null: SIGNPOST_KEY_SECRET."
  type        = string
  default     = null
  sensitive   = true
}

variable "tenant" {
  description = "Id of the tenant to set up (lower case slug)."
  type        = string
  default     = "acme"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]*$", var.tenant))
    error_message = "The tenant must be a lower case slug such as acme."
  }
}

variable "pbx_setting_server" {
  description = "Setting server of the desk phones; Signpost returns it verbatim and the phone expands {mac}."
  type        = string
  default     = "https://pbx.acme.example/prov/{mac}.xml"
}

variable "desk_phone_macs" {
  description = "MAC addresses of the desk phones (any spelling)."
  type        = list(string)
  default     = ["000413000001", "000413000002", "00:04:13:00:00:03"]
}
