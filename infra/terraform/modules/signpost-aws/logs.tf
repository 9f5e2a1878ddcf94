# Signpost logs one JSON object per line (SIGNPOST_LOG_FORMAT=json): serving tasks under the
# stream prefix "serve", migration tasks under "migrate".
resource "aws_cloudwatch_log_group" "this" {
  name              = "/ecs/${var.name}"
  retention_in_days = var.log_retention_days
  tags              = local.tags
}
