# Inputs of the signpost-aws module. Terraform 1.0 syntax: a validation block may refer only to
# its own variable, so rules that relate two inputs (min_capacity <= desired_count <=
# max_capacity) are documented rather than enforced here. Numbers are compared through
# tonumber(): Terraform 1.0 validates a root module variable set with -var or TF_VAR_* before
# converting it, so the value may still be the string "1024" there.

# ---------------------------------------------------------------------------------------------
# Naming

variable "name" {
  description = "Name of this deployment, used for (or as the prefix of) every resource name: ALB, target group, ECS cluster and service, RDS instance, ElastiCache replication group, log group, secrets. Lower case letters, digits and hyphens, at most 28 characters."
  type        = string
  default     = "signpost"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,26}[a-z0-9]$", var.name)) && !can(regex("--", var.name))
    error_message = "The name must be 2 to 28 characters of lower case letters, digits and single hyphens, start with a letter and not end with a hyphen (RDS and ElastiCache identifiers)."
  }
}

variable "tags" {
  description = "Tags added to every resource that takes tags (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------------------------
# Network (an existing VPC)

variable "vpc_id" {
  description = "ID of the existing VPC to deploy into."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "The vpc_id must look like vpc-0123456789abcdef0."
  }
}

variable "public_subnet_ids" {
  description = "Subnets of the load balancer, in at least two availability zones: public subnets for an internet-facing ALB, private ones when alb_internal is true."
  type        = list(string)

  validation {
    condition     = length(var.public_subnet_ids) >= 2 && alltrue([for s in var.public_subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "The public_subnet_ids must list at least two subnet IDs (subnet-...), in different availability zones."
  }
}

variable "private_subnet_ids" {
  description = "Private subnets, in at least two availability zones, for the ECS tasks and ElastiCache (and RDS unless database_subnet_ids is set). The tasks reach ECR, Secrets Manager, CloudWatch Logs and S3 from here: give these subnets a NAT gateway or VPC endpoints."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 2 && alltrue([for s in var.private_subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "The private_subnet_ids must list at least two subnet IDs (subnet-...), in different availability zones."
  }
}

variable "database_subnet_ids" {
  description = "Subnets of the RDS subnet group (at least two availability zones). Empty: the private subnets."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.database_subnet_ids) == 0 || (length(var.database_subnet_ids) >= 2 && alltrue([for s in var.database_subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))]))
    error_message = "The database_subnet_ids must be empty or list at least two subnet IDs (subnet-...)."
  }
}

variable "allowed_ingress_cidrs" {
  description = "IPv4 ranges allowed to reach the load balancer on ports 443 and 80. Phones boot from anywhere, so the default is the whole internet; narrow it for a private deployment."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = length(var.allowed_ingress_cidrs) > 0 && alltrue([for c in var.allowed_ingress_cidrs : can(regex("^[0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}$", c)) && can(cidrhost(c, 0))])
    error_message = "The allowed_ingress_cidrs must list at least one IPv4 CIDR range such as 203.0.113.0/24."
  }
}

variable "alb_internal" {
  description = "Make the load balancer internal (reachable only inside the VPC and networks connected to it)."
  type        = bool
  default     = false
}

variable "assign_public_ip" {
  description = "Give the tasks public IP addresses. Only for tasks placed in public subnets without a NAT gateway; keep false with private subnets."
  type        = bool
  default     = false
}

variable "trusted_proxies" {
  description = "SIGNPOST_TRUSTED_PROXIES: CIDR ranges whose X-Forwarded-For header Signpost believes. Empty: the VPC's IPv4 CIDR ranges, where the ALB's nodes are (the tasks accept traffic from the ALB only, so nothing else in the VPC can reach them)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.trusted_proxies : can(cidrhost(c, 0))])
    error_message = "The trusted_proxies must be CIDR ranges such as 10.0.0.0/16."
  }
}

# ---------------------------------------------------------------------------------------------
# Container and service

variable "image" {
  description = "Container image of Signpost (built from infra/Dockerfile), e.g. 123456789012.dkr.ecr.eu-central-1.amazonaws.com/signpost:1.2.3. When it is in ECR, the execution role may pull from that repository only."
  type        = string

  validation {
    condition     = can(regex("^[^\\s]+$", var.image))
    error_message = "The image must be a non-empty image reference without spaces."
  }
}

variable "migrate_image" {
  description = "Image of the one-off migration task definition. Null: the same as image. Set it to the new release first, run the migration task, then move image to it (see infra/README.md)."
  type        = string
  default     = null

  validation {
    condition     = var.migrate_image == null ? true : can(regex("^[^\\s]+$", var.migrate_image))
    error_message = "The migrate_image must be null or an image reference without spaces."
  }
}

variable "container_port" {
  description = "Port Signpost listens on inside the task (SIGNPOST_LISTEN=0.0.0.0:PORT). The image runs as a non-root user, so it must be 1024 or higher."
  type        = number
  default     = 8080

  validation {
    condition     = var.container_port >= 1024 && var.container_port <= 65535 && floor(var.container_port) == tonumber(var.container_port)
    error_message = "The container_port must be an integer between 1024 and 65535."
  }
}

variable "cpu" {
  description = "Fargate CPU units of one serving task (256 = 0.25 vCPU). memory must be a combination Fargate allows for it."
  type        = number
  default     = 512

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], tonumber(var.cpu))
    error_message = "The cpu must be one of 256, 512, 1024, 2048, 4096, 8192 or 16384."
  }
}

variable "memory" {
  description = "Memory (MiB) of one serving task. Each replica keeps up to cache_max_devices (default 500000) device entries in memory; 1024 MiB suits the defaults."
  type        = number
  default     = 1024

  validation {
    condition     = var.memory >= 512 && var.memory <= 122880
    error_message = "The memory must be between 512 and 122880 MiB."
  }
}

variable "cpu_architecture" {
  description = "CPU architecture of the tasks: X86_64 or ARM64 (Graviton). The image must be built for it."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "The cpu_architecture must be X86_64 or ARM64."
  }
}

variable "desired_count" {
  description = "Number of replicas when the service is created. Afterwards autoscaling owns the count (between min_capacity and max_capacity) and Terraform ignores changes to it."
  type        = number
  default     = 2

  validation {
    condition     = var.desired_count >= 0 && floor(var.desired_count) == tonumber(var.desired_count)
    error_message = "The desired_count must be a whole number, 0 or more."
  }
}

variable "min_capacity" {
  description = "Fewest replicas autoscaling keeps. Two or more keep the service up while one task is replaced or an availability zone fails."
  type        = number
  default     = 2

  validation {
    condition     = var.min_capacity >= 1 && floor(var.min_capacity) == tonumber(var.min_capacity)
    error_message = "The min_capacity must be a whole number, 1 or more."
  }
}

variable "max_capacity" {
  description = "Most replicas autoscaling starts. Mind the database: during a rolling deployment up to twice as many tasks run, so 2 x max_capacity x database_max_connections (+ the migration task's pool) must stay below the RDS instance's max_connections."
  type        = number
  default     = 10

  validation {
    condition     = var.max_capacity >= 1 && var.max_capacity <= 1000 && floor(var.max_capacity) == tonumber(var.max_capacity)
    error_message = "The max_capacity must be a whole number between 1 and 1000."
  }
}

variable "public_url" {
  description = "SIGNPOST_PUBLIC_URL: http(s)://host[:port] that phones reach Signpost at, without a path, e.g. https://signpost.example.com. Hosted-file URLs handed to phones are built from it."
  type        = string

  validation {
    condition     = can(regex("^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$", var.public_url))
    error_message = "The public_url must be http(s)://host[:port] with no path or trailing slash, e.g. https://signpost.example.com."
  }
}

variable "log_level" {
  description = "RUST_LOG of the tasks, e.g. info, or info,signpost=debug."
  type        = string
  default     = "info"

  validation {
    condition     = length(var.log_level) > 0
    error_message = "The log_level must not be empty."
  }
}

variable "database_max_connections" {
  description = "SIGNPOST_DATABASE_MAX_CONNECTIONS: registry pool size of each replica (1-1000)."
  type        = number
  default     = 10

  validation {
    condition     = var.database_max_connections >= 1 && var.database_max_connections <= 1000 && floor(var.database_max_connections) == tonumber(var.database_max_connections)
    error_message = "The database_max_connections must be a whole number between 1 and 1000."
  }
}

variable "redis_prefix" {
  description = "SIGNPOST_REDIS_PREFIX: prefix of every Redis key and of the invalidation channel. Give deployments that share one Redis different prefixes."
  type        = string
  default     = "signpost:"

  validation {
    condition     = length(var.redis_prefix) > 0
    error_message = "The redis_prefix must not be empty."
  }
}

variable "extra_environment" {
  description = "Further environment variables of the serving tasks, e.g. { SIGNPOST_PHONE_RATE_BURST = \"5000\", SIGNPOST_CACHE_TTL_SECONDS = \"600\" }. Names must be SIGNPOST_* or RUST_* (Signpost refuses unknown SIGNPOST_* names at start). They override the module's own values; the variables fed from Secrets Manager cannot be set here."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([
      for k in keys(var.extra_environment) :
      can(regex("^(SIGNPOST|RUST)_[A-Z0-9_]+$", k)) && !contains(["SIGNPOST_JWT_SECRET", "SIGNPOST_JWT_PREVIOUS_SECRETS", "SIGNPOST_DATABASE_URL", "SIGNPOST_REDIS_URL"], k)
    ])
    error_message = "The extra_environment names must match SIGNPOST_* or RUST_* in upper case, and must not be SIGNPOST_JWT_SECRET, SIGNPOST_JWT_PREVIOUS_SECRETS, SIGNPOST_DATABASE_URL or SIGNPOST_REDIS_URL (those come from Secrets Manager)."
  }
}

variable "enable_execute_command" {
  description = "Enable ECS Exec on the service (adds the ssmmessages permissions to the task role). Useful to run `signpost keys create` for the first platform-admin key without its secret reaching the logs."
  type        = bool
  default     = false
}

variable "container_insights" {
  description = "Enable CloudWatch Container Insights on the ECS cluster (extra CloudWatch cost)."
  type        = bool
  default     = true
}

variable "wait_for_steady_state" {
  description = "Make terraform apply wait until the service's deployment is steady."
  type        = bool
  default     = false
}

# ---------------------------------------------------------------------------------------------
# Load balancer

variable "certificate_arn" {
  description = "ARN of the ACM certificate of the HTTPS listener (for the host name in public_url), in the deployment's region."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/.+$", var.certificate_arn))
    error_message = "The certificate_arn must be an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID)."
  }
}

variable "additional_certificate_arns" {
  description = "Further ACM certificates for the HTTPS listener (SNI), e.g. for more host names."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.additional_certificate_arns : can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/.+$", a))])
    error_message = "The additional_certificate_arns must be ACM certificate ARNs."
  }
}

variable "ssl_policy" {
  description = "TLS policy of the HTTPS listener. The default offers TLS 1.3 and 1.2; phones on old firmware that speak only older TLS need an older policy such as ELBSecurityPolicy-TLS-1-0-2015-04 (or plain HTTP, see allow_plain_http_phone_paths)."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"

  validation {
    condition     = can(regex("^ELBSecurityPolicy-", var.ssl_policy))
    error_message = "The ssl_policy must be an ELB security policy name (ELBSecurityPolicy-...)."
  }
}

variable "allow_plain_http_phone_paths" {
  description = "On port 80, forward the phone endpoints (plain_http_phone_path_patterns: Snom's legacy redirect path /{type}/{type}.php and the /{type}.htm settings documents) to Signpost over plain HTTP instead of redirecting them to HTTPS. Snom phones at boot (factory defaults, DHCP option 66 with an http:// URL, old firmware or a CA store that lacks the certificate's root) may speak plain HTTP only and do not follow a redirect to HTTPS. Everything else on port 80, including the API (/v1), XML-RPC and hosted files (/p/), is always redirected. False: port 80 redirects everything."
  type        = bool
  default     = true
}

variable "plain_http_phone_path_patterns" {
  description = "ALB path patterns that port 80 forwards when allow_plain_http_phone_paths is true (at most 5, an ALB limit per rule). /v1/*, /xmlrpc and /p/* are redirected to HTTPS before these are matched."
  type        = list(string)
  default     = ["/*.php", "/*.htm"]

  validation {
    condition     = length(var.plain_http_phone_path_patterns) >= 1 && length(var.plain_http_phone_path_patterns) <= 5 && alltrue([for p in var.plain_http_phone_path_patterns : can(regex("^/", p))])
    error_message = "The plain_http_phone_path_patterns must list 1 to 5 patterns, each starting with /."
  }
}

variable "health_check_path" {
  description = "Path of the target group's health check. /readyz (default) takes a replica out of the load balancer while one of its backends (PostgreSQL, Redis, S3) does not answer; note that ECS also replaces tasks that stay unhealthy, so an outage of a shared backend (e.g. Redis, which Signpost can serve without) cycles the tasks. /healthz checks only that the process answers."
  type        = string
  default     = "/readyz"

  validation {
    condition     = contains(["/readyz", "/healthz"], var.health_check_path)
    error_message = "The health_check_path must be /readyz or /healthz."
  }
}

variable "health_check_grace_period_seconds" {
  description = "Seconds after a task starts during which ECS ignores failing load balancer health checks (serve migrates the schema before it listens)."
  type        = number
  default     = 60

  validation {
    condition     = var.health_check_grace_period_seconds >= 0 && var.health_check_grace_period_seconds <= 2147483647
    error_message = "The health_check_grace_period_seconds must be 0 or more."
  }
}

variable "deregistration_delay_seconds" {
  description = "Seconds the ALB drains a stopping task. Signpost gives in-flight requests 10 s after SIGTERM; large firmware downloads may want more."
  type        = number
  default     = 30

  validation {
    condition     = var.deregistration_delay_seconds >= 0 && var.deregistration_delay_seconds <= 3600
    error_message = "The deregistration_delay_seconds must be between 0 and 3600."
  }
}

variable "alb_idle_timeout" {
  description = "ALB idle timeout in seconds (slow phones downloading firmware over bad links may need more than 60)."
  type        = number
  default     = 60

  validation {
    condition     = var.alb_idle_timeout >= 1 && var.alb_idle_timeout <= 4000
    error_message = "The alb_idle_timeout must be between 1 and 4000 seconds."
  }
}

variable "deletion_protection" {
  description = "Deletion protection of the RDS instance and the load balancer. Turn it off (and apply) before destroying the deployment."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------------------------------------
# Autoscaling

variable "cpu_target_percent" {
  description = "Target average CPU utilisation of the service for target-tracking scaling."
  type        = number
  default     = 60

  validation {
    condition     = var.cpu_target_percent >= 10 && var.cpu_target_percent <= 90
    error_message = "The cpu_target_percent must be between 10 and 90."
  }
}

variable "requests_per_target" {
  description = "Target ALBRequestCountPerTarget (requests per replica per minute) for target-tracking scaling. A mass reboot of phones is bursty: leave headroom."
  type        = number
  default     = 6000

  validation {
    condition     = var.requests_per_target > 0
    error_message = "The requests_per_target must be greater than 0."
  }
}

variable "scale_in_cooldown_seconds" {
  description = "Cooldown after a scale-in."
  type        = number
  default     = 300

  validation {
    condition     = var.scale_in_cooldown_seconds >= 0
    error_message = "The scale_in_cooldown_seconds must be 0 or more."
  }
}

variable "scale_out_cooldown_seconds" {
  description = "Cooldown after a scale-out."
  type        = number
  default     = 60

  validation {
    condition     = var.scale_out_cooldown_seconds >= 0
    error_message = "The scale_out_cooldown_seconds must be 0 or more."
  }
}

# ---------------------------------------------------------------------------------------------
# Redis (ElastiCache)

variable "redis_node_type" {
  description = "ElastiCache node type."
  type        = string
  default     = "cache.t4g.small"

  validation {
    condition     = can(regex("^cache\\.", var.redis_node_type))
    error_message = "The redis_node_type must be an ElastiCache node type such as cache.t4g.small."
  }
}

variable "redis_num_cache_clusters" {
  description = "Nodes of the replication group (1 primary + replicas). Two or more enable automatic failover and Multi-AZ."
  type        = number
  default     = 2

  validation {
    condition     = var.redis_num_cache_clusters >= 1 && var.redis_num_cache_clusters <= 6
    error_message = "The redis_num_cache_clusters must be between 1 and 6."
  }
}

variable "redis_engine_version" {
  description = "Redis engine version of the replication group."
  type        = string
  default     = "7.1"
}

variable "redis_parameter_group_name" {
  description = "ElastiCache parameter group; must match redis_engine_version's family."
  type        = string
  default     = "default.redis7"
}

variable "redis_transit_encryption" {
  description = "Enable in-transit encryption (TLS) and an AUTH token on ElastiCache; Signpost then gets a rediss://:TOKEN@host:6379 URL from Secrets Manager instead of a plain redis://host:6379. Changing this replaces the replication group."
  type        = bool
  default     = true
}

variable "redis_snapshot_retention_limit" {
  description = "Days of ElastiCache snapshots to keep. Signpost keeps only caches and rate-limit buckets in Redis, which it can rebuild, so 0 (none) is the default."
  type        = number
  default     = 0

  validation {
    condition     = var.redis_snapshot_retention_limit >= 0 && var.redis_snapshot_retention_limit <= 35
    error_message = "The redis_snapshot_retention_limit must be between 0 and 35."
  }
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL (RDS)

variable "db_instance_class" {
  description = "RDS instance class. Its memory sets PostgreSQL's default max_connections (about 110 for 1 GiB, 410 for 4 GiB): keep max_capacity x database_max_connections well below it."
  type        = string
  default     = "db.t4g.medium"

  validation {
    condition     = can(regex("^db\\.", var.db_instance_class))
    error_message = "The db_instance_class must be an RDS instance class such as db.t4g.medium."
  }
}

variable "db_engine_version" {
  description = "PostgreSQL version of the RDS instance; a major version alone (\"16\") lets RDS apply minor upgrades without Terraform seeing a difference."
  type        = string
  default     = "16"
}

variable "db_allocated_storage" {
  description = "Initial storage of the RDS instance in GiB (gp3)."
  type        = number
  default     = 20

  validation {
    condition     = var.db_allocated_storage >= 20 && var.db_allocated_storage <= 65536
    error_message = "The db_allocated_storage must be between 20 and 65536 GiB."
  }
}

variable "db_max_allocated_storage" {
  description = "Upper limit of storage autoscaling in GiB; 0 disables storage autoscaling."
  type        = number
  default     = 100

  validation {
    condition     = tonumber(var.db_max_allocated_storage) == 0 || var.db_max_allocated_storage >= 20
    error_message = "The db_max_allocated_storage must be 0 or at least 20."
  }
}

variable "db_multi_az" {
  description = "Run the RDS instance Multi-AZ (a standby in a second availability zone)."
  type        = bool
  default     = true
}

variable "db_name" {
  description = "Name of the PostgreSQL database."
  type        = string
  default     = "signpost"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.db_name))
    error_message = "The db_name must start with a letter and contain only lower case letters, digits and underscores (at most 63)."
  }
}

variable "db_username" {
  description = "Master user name of the RDS instance (Signpost connects as it)."
  type        = string
  default     = "signpost"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.db_username)) && !contains(["postgres", "admin", "rdsadmin"], var.db_username)
    error_message = "The db_username must start with a letter, contain only lower case letters, digits and underscores, and not be a reserved name (postgres, admin, rdsadmin)."
  }
}

variable "db_backup_retention_days" {
  description = "Days of automated RDS backups (point-in-time recovery)."
  type        = number
  default     = 7

  validation {
    condition     = var.db_backup_retention_days >= 1 && var.db_backup_retention_days <= 35
    error_message = "The db_backup_retention_days must be between 1 and 35."
  }
}

variable "db_parameter_group_name" {
  description = "RDS parameter group; null uses the engine's default (which on PostgreSQL 15 and later forces TLS: the module's database URL uses sslmode=require)."
  type        = string
  default     = null
}

variable "db_skip_final_snapshot" {
  description = "Skip the final snapshot when the RDS instance is destroyed. Keep false in production."
  type        = bool
  default     = false
}

variable "db_performance_insights" {
  description = "Enable Performance Insights on the RDS instance (not available on the smallest instance classes)."
  type        = bool
  default     = false
}

variable "apply_immediately" {
  description = "Apply RDS and ElastiCache modifications at once instead of in the next maintenance window."
  type        = bool
  default     = false
}

# ---------------------------------------------------------------------------------------------
# S3 (hosted setting and firmware files)

variable "bucket_name" {
  description = "Name of the S3 bucket of hosted files. Null: a unique name starting with \"<name>-files-\"."
  type        = string
  default     = null

  validation {
    condition     = var.bucket_name == null ? true : can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "The bucket_name must be null or a valid S3 bucket name (3-63 lower case letters, digits, dots and hyphens)."
  }
}

variable "bucket_force_destroy" {
  description = "Let terraform destroy delete the bucket with every file in it. Keep false in production."
  type        = bool
  default     = false
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which replaced or deleted versions of hosted files are expired (the bucket is versioned, so a deleted or overwritten blob can be recovered until then)."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1 && var.noncurrent_version_expiration_days <= 3650
    error_message = "The noncurrent_version_expiration_days must be between 1 and 3650."
  }
}

# ---------------------------------------------------------------------------------------------
# Encryption, secrets, logs

variable "kms_key_arn" {
  description = "Customer managed KMS key for the S3 bucket, the secrets, the RDS storage and ElastiCache at rest. Null: AWS managed keys (SSE-S3 for the bucket). The roles get kms:Decrypt / kms:GenerateDataKey on it; the key policy must allow the account to delegate (the default key policy does)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null ? true : can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "The kms_key_arn must be null or a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)."
  }
}

variable "jwt_previous_secrets_enabled" {
  description = "Also inject SIGNPOST_JWT_PREVIOUS_SECRETS from the \"previous\" key of the JWT secret (JSON). Turn it on while rotating the JWT secret, after putting {\"current\": NEW, \"previous\": OLD} into the secret; see infra/README.md."
  type        = bool
  default     = false
}

variable "secret_recovery_window_days" {
  description = "Days Secrets Manager keeps a deleted secret recoverable (0 deletes at once, or 7-30)."
  type        = number
  default     = 7

  validation {
    condition     = tonumber(var.secret_recovery_window_days) == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "The secret_recovery_window_days must be 0 or between 7 and 30."
  }
}

variable "log_retention_days" {
  description = "Retention of the CloudWatch log group in days (0 keeps logs forever)."
  type        = number
  default     = 30

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], tonumber(var.log_retention_days))
    error_message = "The log_retention_days must be a value CloudWatch Logs accepts: 0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}
