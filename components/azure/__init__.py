"""The Azure cloud layer: AKS, GPU node pools, Key Vault, backup storage, identities and providers."""
