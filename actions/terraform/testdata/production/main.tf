# A stand-in for the production environment: the runbook's variables, each kept in a built-in
# terraform_data resource, so plan and apply work with no provider to download.

variable "shadow_self_min_instances" {
  type    = number
  default = 5
}

variable "cache_node_type" {
  type    = string
  default = "cache.r7g.xlarge"

  validation {
    condition     = startswith(var.cache_node_type, "cache.")
    error_message = "The cache node type must start with cache., not ${var.cache_node_type}."
  }
}

variable "enable_global_tables" {
  type    = bool
  default = false
}

variable "replica_regions" {
  type    = list(string)
  default = []
}

variable "ray_min_replicas" {
  type    = number
  default = 10
}

resource "terraform_data" "shadow_self" {
  input = var.shadow_self_min_instances
}

resource "terraform_data" "cache" {
  input = var.cache_node_type
}

resource "terraform_data" "global_tables" {
  count = var.enable_global_tables ? 1 : 0
  input = var.replica_regions
}

resource "terraform_data" "ray" {
  input = var.ray_min_replicas
}

output "shadow_self_min_instances" {
  value = terraform_data.shadow_self.output
}
