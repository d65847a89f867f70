# Pure data: no provider, no resources. `terraform test` runs this module with nothing installed.
terraform {
  required_version = ">= 1.11"
}
