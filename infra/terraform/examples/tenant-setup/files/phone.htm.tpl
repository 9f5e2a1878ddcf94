<?xml version="1.0" encoding="utf-8"?>
<settings>
  <phone-settings>
    <!-- Rendered by Terraform's templatefile() (the display name), then served by Signpost as a
         template: it fills in {mac}, {phone_type} and {firmware_version} for each phone. -->
    <user_realname idx="1" perm="RW">${display_name} ({phone_type} {mac})</user_realname>
    <language perm="RW">English</language>
  </phone-settings>
</settings>
